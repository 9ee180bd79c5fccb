"""Where a page's number format and currency come from: locale hint, <html lang>, currency, TLD.

Separators are decided once per page from these hints, never guessed per string: "1.226 EUR"
on a German page is 1226 and "$24.990" on a Chilean one is 24990.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

# Languages whose shops write a decimal comma ("12,99"). English, Chinese, Japanese, Korean,
# Thai, Hebrew and Hindi use a decimal point, which is also the default.
_COMMA_LANGUAGES = frozenset(
    [
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "pt",
        "pl",
        "sv",
        "da",
        "nb",
        "nn",
        "no",
        "fi",
        "cs",
        "sk",
        "sl",
        "hr",
        "sr",
        "bs",
        "ro",
        "ru",
        "uk",
        "be",
        "bg",
        "el",
        "tr",
        "hu",
        "et",
        "lv",
        "lt",
        "id",
        "vi",
        "is",
        "ca",
        "eu",
        "gl",
        "az",
        "kk",
        "ka",
        "mk",
        "sq",
    ]
)
# Regions that write a decimal point although their language usually does not.
_POINT_REGIONS = frozenset(
    ["CH", "LI", "MX", "US", "PR", "GT", "HN", "NI", "SV", "DO", "PA", "PE", "PH"]
)

# Currencies whose prices have no minor unit in everyday use: "24.990" can only be 24990.
ZERO_DECIMAL = frozenset(
    [
        "CLP",
        "JPY",
        "KRW",
        "ISK",
        "VND",
        "IDR",
        "PYG",
        "UGX",
        "XAF",
        "XOF",
        "KMF",
        "RWF",
        "BIF",
        "DJF",
        "GNF",
        "VUV",
        "COP",
        "HUF",
        "TWD",
    ]
)
# TWD, COP and HUF do have minor units, but shops show whole amounts; a separator followed by
# exactly three digits is a thousands separator there (NT$1,290 / $ 129.900 / 12.990 Ft).

# Country-code TLD -> (language, currency). Second-level forms (co.uk, com.au) resolve through
# their last label.
_TLD: dict[str, tuple[str, str]] = {
    "de": ("de", "EUR"),
    "at": ("de", "EUR"),
    "ch": ("de_CH", "CHF"),
    "li": ("de_CH", "CHF"),
    "fr": ("fr", "EUR"),
    "be": ("fr", "EUR"),
    "lu": ("fr", "EUR"),
    "es": ("es", "EUR"),
    "it": ("it", "EUR"),
    "nl": ("nl", "EUR"),
    "pt": ("pt", "EUR"),
    "ie": ("en", "EUR"),
    "fi": ("fi", "EUR"),
    "gr": ("el", "EUR"),
    "sk": ("sk", "EUR"),
    "si": ("sl", "EUR"),
    "ee": ("et", "EUR"),
    "lv": ("lv", "EUR"),
    "lt": ("lt", "EUR"),
    "hr": ("hr", "EUR"),
    "pl": ("pl", "PLN"),
    "cz": ("cs", "CZK"),
    "hu": ("hu", "HUF"),
    "ro": ("ro", "RON"),
    "bg": ("bg", "BGN"),
    "se": ("sv", "SEK"),
    "dk": ("da", "DKK"),
    "no": ("nb", "NOK"),
    "is": ("is", "ISK"),
    "uk": ("en_GB", "GBP"),
    "ru": ("ru", "RUB"),
    "ua": ("uk", "UAH"),
    "tr": ("tr", "TRY"),
    "br": ("pt_BR", "BRL"),
    "ar": ("es_AR", "ARS"),
    "cl": ("es_CL", "CLP"),
    "co": ("es_CO", "COP"),
    "mx": ("es_MX", "MXN"),
    "pe": ("es_PE", "PEN"),
    "uy": ("es_UY", "UYU"),
    "ca": ("en_CA", "CAD"),
    "au": ("en_AU", "AUD"),
    "nz": ("en_NZ", "NZD"),
    "in": ("en_IN", "INR"),
    "jp": ("ja", "JPY"),
    "cn": ("zh", "CNY"),
    "tw": ("zh_TW", "TWD"),
    "hk": ("zh_HK", "HKD"),
    "sg": ("en_SG", "SGD"),
    "kr": ("ko", "KRW"),
    "za": ("en_ZA", "ZAR"),
    "il": ("he", "ILS"),
    "ae": ("en_AE", "AED"),
    "my": ("en_MY", "MYR"),
    "th": ("th", "THB"),
    "id": ("id", "IDR"),
    "vn": ("vi", "VND"),
    "ph": ("en_PH", "PHP"),
}
# A country's default currency when only the locale's region is known (de_CH -> CHF).
_REGION_CURRENCY = {lang.split("_")[-1].upper(): cur for lang, cur in _TLD.values() if "_" in lang}
_REGION_CURRENCY.update(
    {
        "DE": "EUR",
        "FR": "EUR",
        "ES": "EUR",
        "IT": "EUR",
        "NL": "EUR",
        "AT": "EUR",
        "BE": "EUR",
        "PT": "EUR",
        "IE": "EUR",
        "FI": "EUR",
        "US": "USD",
        "PL": "PLN",
        "SE": "SEK",
        "DK": "DKK",
        "NO": "NOK",
        "RU": "RUB",
        "JP": "JPY",
        "CZ": "CZK",
        "HU": "HUF",
        "RO": "RON",
    }
)


@dataclass(frozen=True, slots=True)
class Hints:
    """What is known about a page's money format before reading any price."""

    decimal: str | None  # "," or "."; None when nothing says
    currency: str | None  # ISO 4217 default for bare symbols such as "$" or "kr"
    country: str | None  # upper-case region code (from locale or TLD)
    source: str  # human words: where the separator decision came from


def _norm_locale(value: str | None) -> tuple[str, str | None] | None:
    """'de-AT' / 'de_at' / 'DE' -> ('de', 'AT'); None for empty or nonsense."""
    if not value:
        return None
    parts = value.strip().replace("-", "_").split("_")
    lang = parts[0].lower()
    if not (2 <= len(lang) <= 3 and lang.isalpha()):
        return None
    region = parts[1].upper() if len(parts) > 1 and parts[1].isalpha() else None
    return lang, region


def decimal_for_locale(value: str | None) -> str | None:
    """The decimal separator a locale writes, or None when the locale is unusable."""
    norm = _norm_locale(value)
    if norm is None:
        return None
    lang, region = norm
    if region in _POINT_REGIONS:
        return "."
    if lang == "pt" and region is None:
        return ","
    return "," if lang in _COMMA_LANGUAGES else "."


@lru_cache(maxsize=4096)
def tld_info(url: str | None) -> tuple[str, str] | None:
    """(locale, currency) implied by the URL's country-code TLD, if it has one."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    tld = host.rsplit(".", 1)[-1].lower()
    return _TLD.get(tld)


def page_hints(
    *,
    url: str | None,
    locale: str | None = None,
    currency: str | None = None,
    html_lang: str | None = None,
) -> Hints:
    """Combine the hints in priority order: explicit locale, <html lang>, currency, TLD."""
    tld = tld_info(url)
    cur = currency.upper() if currency else None
    country: str | None = None
    decimal: str | None = None
    source = "no locale hint"
    for label, loc in (("locale hint", locale), ("<html lang>", html_lang)):
        norm = _norm_locale(loc)
        if norm is None:
            continue
        decimal = decimal_for_locale(loc)
        country = norm[1]
        source = f"{label} {loc!r}"
        # A bare "en" says little on a .de shop: many shops never translate the attribute.
        if label == "<html lang>" and norm[1] is None and norm[0] == "en" and tld is not None:
            decimal = decimal_for_locale(tld[0])
            source = f"domain {url!r} (html lang 'en' without region)"
        break
    if decimal is None and tld is not None:
        decimal = decimal_for_locale(tld[0])
        source = "domain TLD"
    if country is None and tld is not None:
        country = tld[0].rpartition("_")[2].upper() if "_" in tld[0] else None
    if cur is None and country is not None:
        cur = _REGION_CURRENCY.get(country)
    if cur is None and tld is not None:
        cur = tld[1]
    return Hints(decimal=decimal, currency=cur, country=country, source=source)
