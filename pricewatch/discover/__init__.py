"""Discovering products: crawl a shop's listings and sitemaps, report its product pages.

``Crawler(fetcher, options, limits).run(url)`` returns every product page found (canonical
URL, title, price, stock, extractor). Modules: ``urls`` (canonical URLs, scope, patterns,
pagination), ``frontier`` (queue, visited set, trap cap), ``sitemaps`` (sitemap XML, safely),
``page`` (one page: links, rel=canonical, product or not), ``crawler`` (the crawl itself).
"""

from pricewatch.discover.crawler import Crawler, Found, Limits, Progress, Result

__all__ = ["Crawler", "Found", "Limits", "Progress", "Result"]
