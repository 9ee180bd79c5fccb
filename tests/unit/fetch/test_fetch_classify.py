"""Bot-wall detection and decoding: interstitials are caught, real product pages are not."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pricewatch.fetch.classify import looks_blocked, outcome_for_status
from pricewatch.fetch.decode import decode
from pricewatch.models import Outcome

CORPUS = Path("/work/shared/corpus/pages")
PAGES = sorted(CORPUS.glob("*.html.gz")) if CORPUS.is_dir() else []

INTERSTITIALS = {
    "cloudflare": "<html><head><title>Just a moment...</title></head><body>"
                  "<div id='cf-wrapper'>Checking if the site connection is secure</div>"
                  "</body></html>",
    "cloudflare-block": "<html><head><title>Attention Required! | Cloudflare</title></head>"
                        "<body><h1>Sorry, you have been blocked</h1></body></html>",
    "datadome": "<html><head><title>shop.example</title></head><body><script "
                "src='https://ct.captcha-delivery.com/c.js'></script></body></html>",
    "perimeterx": "<html><head><title>Access to this page has been denied</title></head>"
                  "<body><div id='px-captcha'></div>Press &amp; Hold to confirm</body></html>",
    "amazon": "<html><head><title>Robot Check</title></head><body>Type the characters you "
              "see in this image</body></html>",
    "akamai": "<html><head><title>Access Denied</title></head><body>You don't have permission "
              "to access this server.</body></html>",
    "imperva": "<html><head><META NAME='robots' CONTENT='noindex'></head><body><iframe "
               "src='/_Incapsula_Resource?x=1'>Request unsuccessful. Incapsula incident "
               "ID: 1</iframe></body></html>",
    "enable-js": "<html><head><title>Shop</title></head><body><noscript>Please enable "
                 "JavaScript to view this page.</noscript></body></html>",
}


@pytest.mark.parametrize("name", sorted(INTERSTITIALS))
def test_interstitials_are_blocked(name: str) -> None:
    """Each common bot wall / captcha / enable-JavaScript page is recognised."""
    assert looks_blocked(INTERSTITIALS[name]) is not None


@pytest.mark.skipif(not PAGES, reason="the shared page corpus is not present on this machine")
def test_no_real_product_page_is_flagged_as_blocked() -> None:
    """None of the real product pages in the corpus reads as a bot wall."""
    flagged = {}
    for path in PAGES:
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        marker = looks_blocked(text)
        if marker is not None:
            flagged[path.name] = marker
    assert flagged == {}
    assert len(PAGES) > 100


def test_long_page_mentioning_captcha_in_a_script_is_not_blocked() -> None:
    """A big product page whose review form loads reCAPTCHA is a normal page."""
    page = ("<html><head><title>Blue Kettle - Shop</title></head><body>"
            + "<p>description</p>" * 2000
            + "<script src='https://www.google.com/recaptcha/api.js'></script></body></html>")
    assert looks_blocked(page) is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, None), (304, None), (403, Outcome.BLOCKED), (429, Outcome.RATE_LIMITED),
     (404, Outcome.HTTP_ERROR), (503, Outcome.HTTP_ERROR)],
)
def test_status_outcomes(status: int, outcome: Outcome | None) -> None:
    """Statuses map onto the closed outcome set."""
    assert outcome_for_status(status) is outcome


def test_decode_never_raises() -> None:
    """Header charset first, then meta, then UTF-8/cp1252; bad bytes become U+FFFD."""
    assert decode(b"caf\xe9", "utf-8") == ("caf\ufffd", "utf-8")
    assert decode(b"<meta charset='iso-8859-15'>\xa4", None)[0].endswith("€")
    assert decode(b"caf\xe9", None) == ("café", "cp1252")
    assert decode(b"\xef\xbb\xbfok", "no-such-charset")[1] == "utf-8"
