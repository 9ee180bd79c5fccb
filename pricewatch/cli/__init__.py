"""The `pricewatch` command line. Commands only: each parses its arguments, calls the parts
that do the work, and turns PricewatchError into a message and an exit code (2 for bad
configuration or usage, 1 for other failures; `once` adds 3 and 4 for failed checks), never a
traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from pricewatch import __version__
from pricewatch.config import Settings, default_config_path, load
from pricewatch.errors import ConfigError, ExtractionError, PricewatchError
from pricewatch.models import Outcome
from pricewatch.redact import mask_url

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# `once`: checks ran and were stored, but some (3) or all (4) of them failed; cron sees it.
EXIT_SOME_FAILED, EXIT_ALL_FAILED = 3, 4
Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    return load(args.config)


def _offer_keys(settings: Settings, wanted: str, config_file: str) -> list[str]:
    """The offer keys a product id, an offer key or a product's name (any case) names; an
    unknown name is a usage error, and so is a name several products share."""
    offers = settings.offers()
    keys = [o.key for o in offers if wanted in (o.key, o.product_id)]
    if keys:
        return keys
    folded = wanted.casefold()
    named = [o for o in offers if o.product_name.casefold() == folded]
    products = sorted({o.product_id for o in named})
    if len(products) > 1:
        choices = ", ".join(f"{p} ({next(o.product_name for o in named if o.product_id == p)})"
                            for p in products)
        raise ConfigError(f"{len(products)} products are named {wanted!r}; give the id of one: "
                          f"{choices}", file=config_file)
    if not named:
        raise ConfigError(f"no offer, product id or product name {wanted!r} in the config",
                          file=config_file)
    return [o.key for o in named]


def cmd_validate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    offers = settings.offers()
    stores = {o.store for o in offers}
    intervals = sorted({o.interval for o in offers})
    every = ", ".join(_human_seconds(s) for s in intervals) or "-"
    listings = settings.listings()
    watched = f", {len(listings)} listings watched for new products" if listings else ""
    print(f"{args.config}: OK: {settings.product_count} products, {len(offers)} offers at "
          f"{len(stores)} stores, checked every {every}{watched}; "
          f"database {mask_url(settings.database_url)}")
    for warning in settings.capacity_warnings():
        print(f"warning: {warning}")
    return EXIT_OK


def cmd_once(args: argparse.Namespace) -> int:
    from pricewatch.cli.text import money, stock, table
    from pricewatch.runtime.rounds import run_once

    settings = _settings(args)
    result = asyncio.run(run_once(settings, keep=None if args.list_all else 61))
    rows = [(c.offer_key, c.outcome.value, money(c.price, c.currency), stock(c.in_stock),
             c.extractor, c.http_status, f"{c.duration_ms} ms", (c.error or "")[:60])
            for c in sorted(result.summary.checks, key=lambda c: c.offer_key)]
    if rows and (args.list_all or result.summary.total <= 60):
        print(table(["offer", "outcome", "price", "stock", "extractor", "http", "took", "error"],
                    rows))
        print()
    counts = result.summary.outcomes
    print(table(["outcome", "checks"],
                [(o.value, n) for o, n in sorted(counts.items(), key=lambda kv: -kv[1])]))
    print(f"\n{result.summary.line()}; {result.written} rows written to "
          f"{mask_url(settings.database_url)}")
    for alert in result.alerts:
        print(f"alert: {alert.title}")
    return _once_code(counts, allow_failures=args.allow_failures)


def _once_code(counts: dict[Outcome, int], *, allow_failures: bool) -> int:
    """3 when some checks failed, 4 when all did (0 with --allow-failures), saying which."""
    failed = {o: n for o, n in counts.items() if o.failed}
    total, bad = sum(counts.values()), sum(failed.values())
    if not bad:
        return EXIT_OK
    why = ", ".join(f"{o.value} {n}" for o, n in sorted(failed.items(), key=lambda kv: -kv[1]))
    which = "all" if bad == total else "some"
    print(f"{bad} of {total} checks failed ({why})" + (
        "; exit 0 (--allow-failures)" if allow_failures else
        f"; exit {EXIT_ALL_FAILED if which == 'all' else EXIT_SOME_FAILED} ({which} failed)"),
        file=sys.stderr)
    if allow_failures:
        return EXIT_OK
    return EXIT_ALL_FAILED if which == "all" else EXIT_SOME_FAILED


def cmd_db(args: argparse.Namespace) -> int:
    from pricewatch.db import migrate
    from pricewatch.db.database import open_database

    settings = _settings(args)
    if args.action == "backup":
        return _db_backup(settings, args.file)
    if args.file is not None:
        raise ConfigError(f"db {args.action} takes no FILE (only db backup does)")

    async def run() -> str:
        async with open_database(settings, upgrade=args.action == "upgrade") as engine:
            current = await migrate.current_revision(engine)
            where = f"database {mask_url(settings.database_url)} at revision {current} " \
                    f"(newest shipped: {migrate.head_revision()})"
            if args.action == "check":
                diffs = migrate.describe_drift(await migrate.drift(engine))
                if diffs:
                    raise PricewatchError(
                        f"{where}: the schema differs from the models in "
                        f"{len(diffs)} place(s):\n" + "\n".join(f"  {d}" for d in diffs))
                return f"{where}: schema matches the models"
            return where

    print(asyncio.run(run()))
    return EXIT_OK


def _db_backup(settings: Settings, file: str | None) -> int:
    from pricewatch.db.backup import backup_sqlite, pg_dump_line, sqlite_path

    if file is None:
        raise ConfigError("db backup needs the FILE to write, e.g. pricewatch db backup "
                          "pricewatch-backup.db")
    path = sqlite_path(settings.database_url)
    if path is None:
        print(f"pricewatch does not back up PostgreSQL itself; use pg_dump (the server's "
              f"own online backup), e.g.\n  {pg_dump_line(settings.database_url, file)}\n"
              f"and restore with pg_restore --clean --dbname=... {file}", file=sys.stderr)
        return EXIT_FAILURE
    pages = backup_sqlite(path, Path(file))
    print(f"backed up {path} to {file} ({pages} pages), consistent as of the moment it began")
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from pricewatch.cli.text import money, stock, table
    from pricewatch.db.database import open_database
    from pricewatch.db.repository import history

    settings = _settings(args)
    keys = _offer_keys(settings, args.offer, args.config)

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


def cmd_run(args: argparse.Namespace) -> int:
    from pricewatch.cli import logs
    from pricewatch.runtime.daemon import Daemon

    logs.setup(level=_level(args), fmt=args.log_format)
    settings = _settings(args)
    if settings.cluster_mode(flag=args.cluster):
        try:
            from pricewatch.cluster.replica import Replica
        except ImportError as exc:
            raise ConfigError(f"cluster mode needs the cluster extra: pip install "
                              f"'pricewatch[cluster]' ({exc})") from exc
        return asyncio.run(Replica(settings).run())
    return asyncio.run(Daemon(settings).run())


def cmd_alerts(args: argparse.Namespace) -> int:
    from pricewatch.cli import alerts as commands

    settings = _settings(args)
    if args.action == "test":
        report, ok = asyncio.run(commands.send_test(settings))
        print(report)
        return EXIT_OK if ok else EXIT_FAILURE
    print(asyncio.run(commands.list_recent(settings, limit=args.limit)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from pricewatch.cli.export import export

    settings = _settings(args)
    keys = _offer_keys(settings, args.offer, args.config) if args.offer else None
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError as exc:
            raise ConfigError(f"--since: expected an ISO date or time, got {args.since!r}"
                              ) from exc
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    count = asyncio.run(export(settings, sys.stdout, fmt=args.format, since=since,
                               offer_keys=keys))
    print(f"{count} checks exported", file=sys.stderr)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from pricewatch.cli import logs
    from pricewatch.cli.demo import run_demo

    logs.setup(level=_level(args), fmt=args.log_format)
    return asyncio.run(run_demo(Path(args.dir), port=args.port, size=args.products,
                                once=args.once, listen=args.listen,
                                metrics_port=args.metrics_port, interval=args.interval))


def _level(args: argparse.Namespace) -> int:
    return logging.DEBUG if args.verbose else getattr(logging, args.log_level.upper())


def _add_log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="text for people (default), json lines for Docker and log shippers")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info",
                   help="default info: one summary a minute; debug: one line per check")


def _add_add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="the product page, http(s)")
    p.add_argument("--name", help="the product's name (default: the page's title)")
    p.add_argument("--id", help="the product id, a slug (default: made from the name)")
    p.add_argument("--store", help="the store name (default: from the host, or the store "
                   "whose hosts list it)")
    p.add_argument("--selector", metavar="CSS", help="read the price from this element (as "
                   "`pricewatch check --selector`)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the YAML that would be added and change nothing")


def cmd_check(args: argparse.Namespace) -> int:
    from pricewatch.cli import check as checkcmd

    spec = checkcmd.build_spec(selector=args.selector, xpath=args.xpath,
                               attribute=args.attribute, regex=args.regex,
                               currency=args.currency, locale=args.locale)
    if args.screenshot is not None and not args.browser:
        print("error: --screenshot needs --browser (it is the rendered page's)", file=sys.stderr)
        return EXIT_USAGE
    if checkcmd.is_url(args.target):
        plan = None
        if args.browser:
            from pricewatch.config.browser import BrowserConfig
            from pricewatch.fetch.browser.locate import preflight

            preflight(BrowserConfig())  # no browser: exit 2 naming the setting
            plan = checkcmd.browser_plan(spec, args.screenshot)
        page = asyncio.run(checkcmd.fetch_page(args.target, browser=plan))
    elif args.browser:
        print("error: --browser renders a URL, not a saved file", file=sys.stderr)
        return EXIT_USAGE
    else:
        path = Path(args.target)
        if not path.is_file():
            print(f"error: {args.target}: no such file (and not an http(s) URL)",
                  file=sys.stderr)
            return EXIT_USAGE
        page = checkcmd.read_file(path, args.url)
    code, out, err = checkcmd.run(page, spec, json_output=args.json)
    print(out)
    if err:
        print(f"error: {err}", file=sys.stderr)
    return code


def cmd_add(args: argparse.Namespace) -> int:
    from pricewatch.cli import add

    return asyncio.run(add.run(add.Request(
        url=args.url, config=Path(args.config), name=args.name, product_id=args.id,
        store=args.store, selector=args.selector, dry_run=args.dry_run)))


def cmd_discover(args: argparse.Namespace) -> int:
    from pricewatch.cli import discover

    return asyncio.run(discover.run(discover.Request(
        url=args.url, config=Path(args.config), depth=args.depth, max_pages=args.max_pages,
        per_pattern=args.per_pattern, same_site=args.same_site, sitemaps=args.sitemap,
        match=args.match, add=args.add, json=args.json)))


_DISCOVER_HELP = (
    "Find product pages: crawl a shop's category, search or home page (or its sitemaps) "
    "politely, through the checks' own fetcher, and list each product with its price; --add "
    "appends the new ones to the config. Progress on stderr; Ctrl-C stops and prints what was "
    f"found. Exit status: {EXIT_OK} products found; {EXIT_FAILURE} none (or the URL could not "
    f"be fetched); {EXIT_USAGE} bad config or options; 130 interrupted.")


def _add_discover_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="a category, search or home page, or a sitemap (.xml, .xml.gz)")
    p.add_argument("--depth", type=int, default=2, metavar="N",
                   help="follow links up to N hops from the URL (default 2; pagination keeps "
                   "its listing's depth)")
    p.add_argument("--max-pages", type=int, default=1000, metavar="M",
                   help="fetch at most M pages and sitemaps (default 1000)")
    p.add_argument("--same-site", action="store_true",
                   help="follow links to every host of the URL's site (www., m., ...: its "
                   "registrable domain); default: the URL's host only")
    p.add_argument("--sitemap", action="store_true",
                   help="also read the site's sitemaps (robots.txt Sitemap: lines, else "
                   "/sitemap.xml)")
    p.add_argument("--match", metavar="REGEX",
                   help="keep only sitemap entries and products whose URL matches")
    p.add_argument("--per-pattern", type=int, default=50, metavar="K",
                   help="trap bound: follow at most K pages of one URL pattern (the path with "
                   "numbers generalised) in a row, as a calendar's 'next month' or an endless "
                   "'next page' would go on (default 50)")
    p.add_argument("--add", action="store_true",
                   help="append the products the config does not watch yet")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def _human_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _check_page_arguments(check: argparse.ArgumentParser) -> None:
    """`check`'s options for how the page is loaded (--browser) and shown (--json)."""
    check.add_argument("--json", action="store_true",
                       help="print one JSON object: price, currency, in_stock, title, "
                       "extractor, outcome, evidence")
    check.add_argument("--browser", action="store_true",
                       help="render the page in headless Chromium first (as fetcher: browser; "
                       "waits for --selector when given, else for the network to go idle)")
    check.add_argument("--screenshot", metavar="FILE", type=Path,
                       help="with --browser: save a PNG of the rendered page to FILE")


def _add_run_options(run: argparse.ArgumentParser) -> None:
    _add_log_options(run)
    run.add_argument("--cluster", action="store_true",
                     help="run as one of several replicas sharing one PostgreSQL and one "
                          "schedule (as `cluster: true` does; docs/cluster.md)")


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 -- one statement per command
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

    run = command("run", cmd_run, "Run the daemon: scheduled checks, /metrics, /healthz, "
                  "/readyz; reloads the config on SIGHUP or when the file changes.")
    _add_run_options(run)
    command("validate", cmd_validate, "Check a config file and print a one-line summary.")
    once = command("once", cmd_once,
                   "Check every active offer once, store every check, print a summary table. "
                   f"Exit status: {EXIT_OK} every check found a price; {EXIT_SOME_FAILED} some "
                   f"checks failed; {EXIT_ALL_FAILED} all checks failed (which outcomes is "
                   f"printed on stderr); {EXIT_USAGE} bad config; {EXIT_FAILURE} other errors "
                   "(the database, say).")
    once.add_argument("--all", action="store_true", dest="list_all",
                      help="list every offer, however many (default: up to 60)")
    once.add_argument("--allow-failures", action="store_true",
                      help=f"exit {EXIT_OK} even when checks failed (they are still stored)")
    db = command("db", cmd_db, "Database maintenance: upgrade (apply migrations), current "
                 "(show the revision), check (compare the schema with the models: 'schema "
                 "matches', or each difference and exit 1), backup FILE (a consistent copy "
                 "of a SQLite database, safe while the daemon writes; for PostgreSQL it prints "
                 "the pg_dump line).")
    db.add_argument("action", choices=["upgrade", "current", "check", "backup"])
    db.add_argument("file", nargs="?", metavar="FILE", help="for backup: the file to write")
    check = command("check", cmd_check, "Show what each extractor finds on one page (a URL, "
                    "or a saved HTML file, .gz too) and why the winner won. Exit status 0 "
                    "when a price was found, 1 when not (or the fetch failed).", config=False)
    check.add_argument("target", help="an http(s) URL, or the path of a saved HTML page")
    check.add_argument("--url", help="for a saved file: the address it came from (relative "
                       "links, currency hints such as a .cl domain)")
    rule = check.add_mutually_exclusive_group()
    rule.add_argument("--selector", metavar="CSS", help="read the price from this element")
    rule.add_argument("--xpath", metavar="XP", help="read the price from this XPath")
    check.add_argument("--attribute", metavar="A", help="read this attribute of the match")
    check.add_argument("--regex", metavar="R", help="price part of the text (group 1)")
    check.add_argument("--currency", metavar="C", help="ISO 4217 hint, e.g. EUR")
    check.add_argument("--locale", metavar="L", help="separator hint, e.g. de_DE")
    _check_page_arguments(check)
    add = command("add", cmd_add, "Add a product from its URL: fetch the page politely, show "
                  "what was found (price, currency, stock, title, extractor, evidence), and "
                  "append the product to the config, leaving the rest of the file as it was; "
                  "a running daemon picks it up. When the price is not clear it lists the "
                  "candidates with a --selector for each and adds nothing (exit 1).")
    _add_add_options(add)
    _add_discover_options(command("discover", cmd_discover, _DISCOVER_HELP))
    hist = command("history", cmd_history, "Show the stored checks of a product or offer.")
    hist.add_argument("offer", help="a product id, a product's name (any case: \"Classic "
                      "Kettle\"), or an offer key PRODUCT@STORE")
    hist.add_argument("--limit", type=int, default=20, help="checks per offer (default 20)")
    alerts = command("alerts", cmd_alerts, "Alerts: test (send a test message through every "
                     "configured channel and report each result), list (recent alerts and their "
                     "delivery status).")
    alerts.add_argument("action", choices=["test", "list"])
    alerts.add_argument("--limit", type=int, default=20, help="alerts to list (default 20)")
    exp = command("export", cmd_export, "Write stored checks to stdout as CSV (default) or "
                  "JSON lines, oldest first; prices stay exact decimals.")
    exp.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    exp.add_argument("--since", help="only checks at or after this ISO date/time (UTC unless "
                     "it has an offset), e.g. 2026-11-01")
    exp.add_argument("--offer", help="only this product (id or name) or offer key "
                     "PRODUCT@STORE")
    demo = command("demo", cmd_demo, "Start the bundled demo shop on 127.0.0.1, write a config "
                   "for it and run the daemon against it (Ctrl-C stops both).", config=False)
    demo.add_argument("--dir", default="demo-data",
                      help="where the demo config and database go (default ./demo-data)")
    demo.add_argument("--port", type=int, default=8765, help="demo shop port (0: any free)")
    demo.add_argument("--products", type=int, default=36, help="number of demo products")
    demo.add_argument("--once", action="store_true", help="one round, print it, exit")
    demo.add_argument("--listen", default="127.0.0.1",
                      help="address for /metrics (0.0.0.0 in a container)")
    demo.add_argument("--metrics-port", type=int, default=9108, help="port for /metrics")
    demo.add_argument("--interval", default="1m", help="check interval (default 1m)")
    _add_log_options(demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in ("run", "demo"):
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    try:
        code: int = args.func(args)
    except (ConfigError, ExtractionError) as exc:
        # A bad selector, XPath or regex on the command line is a usage error.
        print(f"error: {mask_url(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except PricewatchError as exc:
        print(f"error: {mask_url(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` or similar, which stopped reading: not an error. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        # The one boundary: a database error that no lower layer mapped still reaches the
        # user as one line, not a traceback. Anything else is a bug and keeps its traceback.
        from pricewatch.db.errors import raised_by_database, storage_error

        error = storage_error(exc, "database error") if raised_by_database(exc) else None
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if argv is None and args.command == "once":
        _leave(code)
    return code


def _leave(code: int) -> NoReturn:
    """End the `pricewatch` process of a finished `once` now: its work is written and its
    output printed, and tearing down the interpreter's thousand modules is a cron job's whole
    exit cost (bench/throughput.py measures the process from spawn to exit)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

