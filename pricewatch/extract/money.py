"""Price text -> (Decimal, ISO 4217): a thin layer over price-parser that adds page hints.

price-parser finds the number and the currency symbol; this module decides the one thing it
cannot know from a single string (is "1.226" a thousand or one?) from the page's hints, and
turns symbols into ISO codes ("$" on a .cl shop is CLP).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from price_parser import Price
from price_parser._currencies import CURRENCIES

from pricewatch.extract.locales import ZERO_DECIMAL, Hints, page_hints
from pricewatch.models import PRICE_LIMIT

# Symbols whose currency does not depend on the shop's country.
_FIXED = {
    "US$": "USD",
    "U$S": "USD",
    "USD$": "USD",
    "€": "EUR",
    "EURO": "EUR",
    "EUROS": "EUR",
    "£": "GBP",
    "₹": "INR",
    "RS": "INR",
    "RS.": "INR",
    "र": "INR",
    "R$": "BRL",
    "ZŁ": "PLN",
    "KČ": "CZK",
    "₽": "RUB",
    "РУБ": "RUB",
    "РУБ.": "RUB",
    "Р.": "RUB",
    "₩": "KRW",
    "₺": "TRY",
    "TL": "TRY",
    "฿": "THB",
    "₫": "VND",
    "Đ": "VND",
    "₪": "ILS",
    "₴": "UAH",
    "ГРН": "UAH", "ГРН.": "UAH", "원": "KRW",
    "LEI": "RON",
    "LEU": "RON",
    "FR.": "CHF",
    "NT$": "TWD",
    "HK$": "HKD",
    "A$": "AUD",
    "AU$": "AUD",
    "C$": "CAD",
    "CA$": "CAD",
    "NZ$": "NZD",
    "S$": "SGD",
    "MX$": "MXN",
    "AR$": "ARS",
    "CL$": "CLP",
    "CO$": "COP",
    "$U": "UYU",
    "FT": "HUF",
    "KD": "KWD",
    "RM": "MYR",
    "₱": "PHP",
    "RP": "IDR",
    "RMB": "CNY",
    "NTD": "TWD",
    "元": "CNY",
    "円": "JPY",
    "ZL": "PLN",
    "KN": "HRK",
    "LV": "BGN",
    "ЛВ.": "BGN",
    "R": "ZAR",
}
_DOLLAR = frozenset(
    ["USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN", "CLP", "ARS", "COP", "UYU"]
)
_CROWN = frozenset(["SEK", "NOK", "DKK", "ISK"])
_ALIASES = {"RMB": "CNY", "NTD": "TWD"}


@lru_cache(maxsize=1)
def _reverse_symbols() -> dict[str, str]:
    """Symbols price-parser knows that name exactly one currency."""
    seen: dict[str, set[str]] = {}
    for code, info in CURRENCIES.items():
        if len(code) != 3 or not code.isalpha():
            continue
        symbols = {info["s"], info["sn"], *info.get("sn2", [])}
        for sym in symbols:
            seen.setdefault(sym.upper(), set()).add(code)
    return {sym: next(iter(codes)) for sym, codes in seen.items() if len(codes) == 1}


def to_iso(symbol: str | None, default: str | None = None) -> str | None:
    """An ISO 4217 code for a currency symbol or code; ``default`` decides "$", "¥" and "kr"."""
    if not symbol:
        return None
    sym = symbol.strip()
    up = sym.upper()
    if up in _ALIASES:
        return _ALIASES[up]
    if len(up) == 3 and up.isalpha() and up in CURRENCIES:
        return up
    if up in _FIXED:
        return _FIXED[up]
    if sym == "$":
        return default if default in _DOLLAR else "USD"
    if sym in ("¥", "￥"):
        return "CNY" if default == "CNY" else "JPY"
    if up in ("KR", "KR.", ":-"):
        return default if default in _CROWN else ("DKK" if up == "KR." else "SEK")
    return _reverse_symbols().get(up)


_AMBIGUOUS = re.compile(r"^\d{1,3}[.,]\d{3}$")

_QUANTUM = Decimal("0.000001")
_MINUS = ("-", "\u2212", "\u2012", "\u2013", "\ufe63", "\uff0d")  # hyphen, minus, dashes
_EXPONENT = re.compile(r"^[eE][+-]?\d")


def valid_amount(amount: Decimal | None) -> Decimal | None:
    """``amount`` if it can be a price (finite, > 0, < 10^14, not 0 at six decimals), else
    None. A wrong price is worse than none: 10^308 or 0.0000001 is no price."""
    if amount is None or not amount.is_finite() or amount <= 0 or amount >= PRICE_LIMIT:
        return None
    if amount.quantize(_QUANTUM, rounding=ROUND_HALF_UP) == 0:
        return None
    return amount


def _signed_or_exponent(text: str, amount_text: str, currency_text: str | None) -> bool:
    """Whether the number price-parser read is really negative (``$-5.00``, ``-5``, ``-$5``)
    or the mantissa of an exponent (``1e308``): price-parser drops both the sign and the
    exponent, and would read 5 and 1."""
    start = text.find(amount_text)
    if start < 0:
        return False
    if _EXPONENT.match(text[start + len(amount_text):]):
        return True
    before = text[:start].rstrip()
    if currency_text and before.endswith(currency_text):
        before = before[: -len(currency_text)].rstrip()
    # A dash after a digit is a range ("10 - 20"): price-parser already took the first number.
    return before.endswith(_MINUS)


def _decimal_separator(amount_text: str, hints: Hints, currency: str | None) -> str | None:
    """The decimal separator to force on price-parser, only where the text is ambiguous."""
    digits = re.sub(r"[^\d.,]", "", amount_text)
    if not _AMBIGUOUS.match(digits):
        # Two different separators, a repeated one, or 1-2 decimals: the text decides.
        return None
    sep = "." if "." in digits else ","
    other = "," if sep == "." else "."
    cur = currency or hints.currency
    if cur is not None and cur in ZERO_DECIMAL:
        return other  # "24.990" CLP: a thousands separator
    if hints.decimal is not None:
        return hints.decimal
    return other  # price-parser's own reading: three digits after one separator are thousands


@lru_cache(maxsize=4096)
def _parsed(text: str, currency_hint: str | None, decimal_separator: str | None) -> Price:
    """price-parser's reading, cached: a page repeats its price texts (wrapper and inner
    element, sticky bar and buy box). Callers only read the result."""
    return Price.fromstring(text, currency_hint=currency_hint, decimal_separator=decimal_separator)


def parse_with_hints(
    text: str,
    hints: Hints,
    *,
    currency_hint: str | None = None,
    decimal_separator: str | None = None,
) -> tuple[Decimal | None, str | None]:
    """Parse one price text under a page's hints; amounts <= 0 read as no price."""
    if not text or len(text) > 400:
        return None, to_iso(currency_hint, hints.currency) if currency_hint else None
    hint = currency_hint or hints.currency
    first = _parsed(text, hint, decimal_separator)
    currency = to_iso(first.currency, hints.currency if currency_hint is None else currency_hint)
    if currency is None and currency_hint:
        currency = to_iso(currency_hint, hints.currency)
    if first.amount_text is None:
        return None, currency
    if _signed_or_exponent(text, first.amount_text, first.currency):
        return None, currency
    amount = first.amount
    if decimal_separator is None:
        sep = _decimal_separator(first.amount_text, hints, currency)
        if sep is not None:
            amount = _parsed(text, hint, sep).amount
    return valid_amount(amount), currency


_PLAIN = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
# A number as JSON or a program writes it: -5, 1e308, 2.5E-3.
_MACHINE_NUMBER = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+\s*$|^\s*[+-]\s*\d")


def parse_machine(value: object, hints: Hints, currency: str | None = None) -> Decimal | None:
    """A machine-written amount (JSON-LD, microdata content=): "1226.00", 1226, or localized."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return valid_amount(Decimal(str(value)))
        except InvalidOperation:
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    cur = currency or hints.currency
    if _PLAIN.match(text) and not (cur in ZERO_DECIMAL and _AMBIGUOUS.match(text)):
        return valid_amount(Decimal(text))
    if _MACHINE_NUMBER.match(text):
        # "-5" or "1e308" (str() of a JSON number): a number, never the digits price-parser
        # would pick out of it.
        try:
            return valid_amount(Decimal(text.replace(" ", "")))
        except InvalidOperation:
            return None
    return parse_with_hints(text, hints, currency_hint=currency)[0]


def parse_price(
    text: str,
    *,
    currency_hint: str | None = None,
    locale: str | None = None,
    url: str | None = None,
    decimal_separator: str | None = None,
) -> tuple[Decimal | None, str | None]:
    """Public: a price text -> (amount, ISO 4217 code); (None, ...) when there is no price.

    ``locale`` ("de_DE") and ``url`` (its TLD) decide ambiguous separators; ``currency_hint``
    names the currency when the text has none (or only "$"). ``decimal_separator`` overrides.
    """
    hints = page_hints(url=url, locale=locale, currency=currency_hint)
    return parse_with_hints(
        text, hints, currency_hint=currency_hint, decimal_separator=decimal_separator
    )
