"""The `pricewatch` command line. Commands only: each parses its arguments, calls the parts
that do the work, and turns PricewatchError into a message and an exit code (2 for bad
configuration or usage, 1 for other failures), never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pricewatch import __version__
from pricewatch.config import Settings, default_config_path, load
from pricewatch.errors import ConfigError, PricewatchError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    return load(args.config)


def cmd_validate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    offers = settings.offers()
    stores = {o.store for o in offers}
    intervals = sorted({o.interval for o in offers})
    every = ", ".join(_human_seconds(s) for s in intervals) or "-"
    print(f"{args.config}: OK: {len(settings.products)} products, {len(offers)} offers at "
          f"{len(stores)} stores, checked every {every}; database {settings.database_url}")
    return EXIT_OK


def cmd_once(args: argparse.Namespace) -> int:
    from pricewatch.service import run_once
    from pricewatch.textui import money, stock, table

    settings = _settings(args)
    result = asyncio.run(run_once(settings))
    rows = [(c.offer_key, c.outcome.value, money(c.price, c.currency), stock(c.in_stock),
             c.extractor, c.http_status, f"{c.duration_ms} ms", (c.error or "")[:60])
            for c in sorted(result.summary.checks, key=lambda c: c.offer_key)]
    if rows and (args.verbose or len(rows) <= 60):
        print(table(["offer", "outcome", "price", "stock", "extractor", "http", "took", "error"],
                    rows))
        print()
    counts = result.summary.outcomes
    print(table(["outcome", "checks"],
                [(o.value, n) for o, n in sorted(counts.items(), key=lambda kv: -kv[1])]))
    print(f"\n{result.summary.line()}; {result.written} rows written to {settings.database_url}")
    for alert in result.alerts:
        print(f"alert: {alert.title}")
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from pricewatch.service import open_database
    from pricewatch.store import migrate

    settings = _settings(args)

    async def run() -> str:
        async with open_database(settings, upgrade=args.action == "upgrade") as engine:
            current = await migrate.current_revision(engine)
            if args.action == "check":
                diffs = await migrate.drift(engine)
                if diffs:
                    raise PricewatchError(f"database schema differs from the models: {diffs}")
            return f"database {settings.database_url} at revision {current} " \
                   f"(newest shipped: {migrate.head_revision()})"

    print(asyncio.run(run()))
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from pricewatch.service import open_database
    from pricewatch.store.repository import history
    from pricewatch.textui import money, stock, table

    settings = _settings(args)
    keys = [o.key for o in settings.offers()
            if o.key == args.offer or o.product_id == args.offer]
    if not keys:
        raise ConfigError(f"no offer or product {args.offer!r} in the config", file=args.config)

    async def run() -> None:
        async with open_database(settings, upgrade=False) as engine, engine.connect() as conn:
            for key in keys:
                rows = await history(conn, key, limit=args.limit)
                print(f"{key}: {len(rows)} most recent checks")
                print(table(["observed (UTC)", "outcome", "price", "stock", "extractor", "error"],
                            [(c.observed_at.strftime("%Y-%m-%d %H:%M:%S"), c.outcome.value,
                              money(c.price, c.currency), stock(c.in_stock), c.extractor,
                              (c.error or "")[:60]) for c in rows]))
                print()

    asyncio.run(run())
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    from pricewatch.alerts import commands

    settings = _settings(args)
    if args.action == "test":
        report, ok = asyncio.run(commands.send_test(settings))
        print(report)
        return EXIT_OK if ok else EXIT_FAILURE
    print(asyncio.run(commands.list_recent(settings, limit=args.limit)))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from pricewatch.demo.run import run_demo

    return asyncio.run(run_demo(Path(args.dir), port=args.port, size=args.products,
                                once=args.once))


def _human_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pricewatch",
        description="Self-hosted price monitoring: checks product pages, stores every check, "
        "exposes metrics and sends alerts.",
    )
    parser.add_argument("--version", action="version", version=f"pricewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Command, help_text: str, *, config: bool = True
                ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if config:
            p.add_argument("-c", "--config", default=str(default_config_path()),
                           help="config file (default: $PRICEWATCH_CONFIG or ./config.yaml)")
        p.set_defaults(func=func)
        return p

    command("validate", cmd_validate, "Check a config file and print a one-line summary.")
    once = command("once", cmd_once,
                   "Check every active offer once, store every check, print a summary table.")
    once.add_argument("--verbose", action="store_true", help="list every offer, however many")
    db = command("db", cmd_db, "Database maintenance: upgrade (apply migrations), current "
                 "(show the revision), check (compare the schema with the models).")
    db.add_argument("action", choices=["upgrade", "current", "check"])
    hist = command("history", cmd_history, "Show the stored checks of a product or offer.")
    hist.add_argument("offer", help="a product id, or an offer key PRODUCT@STORE")
    hist.add_argument("--limit", type=int, default=20, help="checks per offer (default 20)")
    alerts = command("alerts", cmd_alerts, "Alerts: test (send a test message through every "
                     "configured channel and report each result), list (recent alerts and their "
                     "delivery status).")
    alerts.add_argument("action", choices=["test", "list"])
    alerts.add_argument("--limit", type=int, default=20, help="alerts to list (default 20)")
    demo = command("demo", cmd_demo, "Start the bundled demo shop on 127.0.0.1, write a config "
                   "for it and check its products.", config=False)
    demo.add_argument("--dir", default="demo-data",
                      help="where the demo config and database go (default ./demo-data)")
    demo.add_argument("--port", type=int, default=8765, help="demo shop port (0: any free)")
    demo.add_argument("--products", type=int, default=36, help="number of demo products")
    demo.add_argument("--once", action="store_true", help="one round, then exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PricewatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
