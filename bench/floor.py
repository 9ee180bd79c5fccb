"""Contender 0, the floor: fetch every page and throw it away.

aiohttp with the same politeness as pricewatch's config in the bench (one lane per host of
``ceil(connections / hosts)`` tasks, ``connections`` requests in flight at most), reading each
body whole and doing nothing else: no parsing, no storing. No client that does its work can be
faster than this one on the same machine and load shop, so its fraction of the latency bound
is what the bound's targets can be judged against (the load shop's own time per answer and the
200 KB transfers are in it).

    python -m bench.floor --urls urls.txt --db out.db --connections 50 --hosts 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import sys
from collections import defaultdict
from urllib.parse import urlsplit

import aiohttp

from bench.measure import Phase, read_urls, report


async def fetch_all(urls: list[str], connections: int) -> int:
    slots = asyncio.Semaphore(connections)
    lanes: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        lanes[urlsplit(url).netloc].append(url)
    per_host = math.ceil(connections / max(1, len(lanes)))
    fetched = 0

    async def lane(queue: list[str]) -> None:
        nonlocal fetched
        while queue:
            url = queue.pop()
            async with slots, session.get(url) as response:
                await response.read()
            fetched += 1

    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(lane(queue) for queue in lanes.values()
                               for _ in range(min(per_host, len(queue)))))
    return fetched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True)
    parser.add_argument("--db", required=True, help="left empty: the floor stores nothing")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20, help="unused: lanes follow the URLs")
    args = parser.parse_args(argv)
    urls = read_urls(args.urls)
    sqlite3.connect(args.db).execute("CREATE TABLE IF NOT EXISTS prices (url TEXT, price REAL)")
    phase = Phase()
    phase.start()
    fetched = asyncio.run(fetch_all(urls, args.connections))
    phase.stop()
    report("floor", len(urls), fetched, phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
