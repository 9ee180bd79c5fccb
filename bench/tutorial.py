"""Contender 1, the baseline: the scraping tutorial's way.

aiohttp + ``asyncio.gather`` over every URL + an ``asyncio.Semaphore`` as the connection limit,
BeautifulSoup(html, "lxml") and ``select_one`` for the price, and one INSERT + commit per row
with the standard ``sqlite3`` module. Written as the tutorials write it, on purpose: this is the
code pricewatch's users would otherwise have.

    python -m bench.tutorial --urls urls.txt --db out.db --connections 50
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys

import aiohttp
from bs4 import BeautifulSoup

from bench.measure import Phase, read_urls, report


def parse_price(html: str) -> float | None:
    soup = BeautifulSoup(html, "lxml")
    tag = soup.select_one(".buybox .price")
    if tag is None:
        return None
    return float(tag.get_text(strip=True).replace("$", "").replace(",", ""))


async def scrape(urls: list[str], db: sqlite3.Connection, connections: int) -> int:
    semaphore = asyncio.Semaphore(connections)
    stored = 0

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal stored
        async with semaphore:
            try:
                async with session.get(url) as response:
                    html = await response.text()
            except aiohttp.ClientError as exc:
                print(f"{url}: {exc}", file=sys.stderr)
                return
            price = parse_price(html)
            db.execute("INSERT INTO prices (url, price) VALUES (?, ?)", (url, price))
            db.commit()
            stored += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, url) for url in urls))
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20, help="unused: no per-host limits here")
    args = parser.parse_args(argv)
    urls = read_urls(args.urls)
    db = sqlite3.connect(args.db)
    db.execute("CREATE TABLE IF NOT EXISTS prices (url TEXT, price REAL)")
    phase = Phase()
    phase.start()
    stored = asyncio.run(scrape(urls, db, args.connections))
    phase.stop()
    db.close()
    report("tutorial", len(urls), stored, phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
