"""Contender 2: Scrapy 2.x, a spider with a CSS selector and an item pipeline into SQLite.

Settings match the other contenders' politeness: ``CONCURRENT_REQUESTS`` is the total connection
limit, ``CONCURRENT_REQUESTS_PER_DOMAIN`` the same per-host limit pricewatch gets, no download
delay, robots.txt obeyed (the load shop allows everything). The pipeline commits every 100
items, friendlier to Scrapy than the per-item commit many tutorials show.

    python -m bench.scrapy_contender --urls urls.txt --db out.db --connections 50 --hosts 20
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from bench.measure import Phase, read_urls, report

_COMMIT_EVERY = 100


class PriceSpider(scrapy.Spider):
    name = "prices"

    def parse(self, response: Response, **_kwargs: Any) -> Iterator[dict[str, Any]]:
        text = response.css(".buybox .price::text").get()
        price = float(text.replace("$", "").replace(",", "")) if text else None
        yield {"url": response.url, "price": price}


class SQLitePipeline:
    stored = 0  # read by main() after the crawl; one crawl per process

    def __init__(self, path: str) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None
        self.pending = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> SQLitePipeline:
        return cls(crawler.settings.get("BENCH_DB"))

    def open_spider(self, spider: scrapy.Spider | None = None) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.execute("CREATE TABLE IF NOT EXISTS prices (url TEXT, price REAL)")

    def process_item(self, item: dict[str, Any], spider: scrapy.Spider | None = None) -> Any:
        assert self.db is not None
        self.db.execute("INSERT INTO prices (url, price) VALUES (?, ?)",
                        (item["url"], item["price"]))
        self.pending += 1
        SQLitePipeline.stored += 1
        if self.pending >= _COMMIT_EVERY:
            self.db.commit()
            self.pending = 0
        return item

    def close_spider(self, spider: scrapy.Spider | None = None) -> None:
        assert self.db is not None
        self.db.commit()
        self.db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args(argv)
    urls = read_urls(args.urls)
    process = CrawlerProcess(settings={
        "BENCH_DB": args.db,
        "ITEM_PIPELINES": {f"{__name__}.SQLitePipeline": 300},
        "CONCURRENT_REQUESTS": args.connections,
        "CONCURRENT_REQUESTS_PER_DOMAIN": math.ceil(args.connections / args.hosts),
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    })
    process.crawl(PriceSpider, start_urls=urls)
    phase = Phase()
    phase.start()
    process.start()
    phase.stop()
    report("scrapy", len(urls), SQLitePipeline.stored, phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
