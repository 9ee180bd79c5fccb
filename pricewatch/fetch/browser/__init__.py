"""The browser fetcher: pages rendered by headless Chromium through Playwright, for offers
with ``fetcher: browser``. The only importer of Playwright is this package's ``pool`` and
``render``, and those load only when the first such offer is checked; ``service`` (what the
Fetcher holds) imports neither."""
