"""The binary-content test counts control characters the same way on its ASCII fast path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pricewatch.fetch.decode import _CONTROL, _SAMPLE, MAX_CONTROL, MAX_UNREADABLE, not_text


def _by_regex(text: str) -> str | None:
    """not_text as it reads with the regex alone (the non-ASCII path)."""
    sample = text[:_SAMPLE]
    if not sample:
        return None
    if "\x00" in sample:
        return "binary content (NUL bytes), not a text page"
    controls = len(_CONTROL.findall(sample))
    unreadable = controls + sample.count("\ufffd")
    if controls > MAX_CONTROL * len(sample) or unreadable > MAX_UNREADABLE * len(sample):
        share = 100 * unreadable / len(sample)
        return f"binary content ({share:.0f}% control or undecodable characters), not a text page"
    return None


_ASCII = st.text(st.sampled_from([chr(c) for c in range(1, 128)] + ["a"] * 40), max_size=400)


@settings(max_examples=300, deadline=None)
@given(_ASCII)
def test_ascii_fast_path_counts_what_the_regex_counts(text: str) -> None:
    """On ASCII text the translate-based count gives the regex's verdict, message included."""
    assert not_text(text) == _by_regex(text)


def test_a_few_ascii_controls_make_a_page_binary() -> None:
    """Two per cent of ASCII control bytes is binary content; none is a text page."""
    assert not_text("a" * 980 + "\x07" * 20) is not None
    assert not_text("<p>plain page</p>\n\t\r" * 50) is None
