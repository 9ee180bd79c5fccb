"""Masking secrets before text reaches a log line, a message or the terminal.

One helper for every place a URL is shown: ``postgresql://user:***@host/db``. It masks any
``scheme://user:password@`` in a text, so a driver's error message that quotes the URL is safe
to print too.
"""

from __future__ import annotations

import re

# scheme://user:password@ -- the password is whatever lies between the first ':' after the
# user and the last '@' before the host (a password may itself contain ':' or '@').
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^\s/]*)@")


def mask_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m['head']}***@" if m["secret"] else m[0], text)
