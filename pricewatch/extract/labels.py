"""The words around an amount that say it is not the item's price.

A shop page shows many amounts besides the price: the price per kilo, the monthly instalment,
the subscription price, a coupon, "you save", shipping. Each is named by a label next to it,
in the shop's language, and the label is what a person reads to tell them apart. The
patterns below cover the major shop languages (English, German, French, Spanish, Italian,
Dutch, Portuguese, the Nordic languages, Polish, Czech, Slovak, Hungarian, Romanian, Russian,
Turkish, Chinese, Japanese, Korean). They are read in two windows: the words just before the
amount (since the previous number: "You save:", "4 payments of", "Unit price") and the words
just after it (until the next number: "/ kg", "per month", "x 12 cuotas", "off").
"""

from __future__ import annotations

import re

# An amount's own currency may stand between it and its label ("36,22 € / kg", "12 zł/kg").
_LEAD = r"^\s*\)?\s*[^\s\d/]{0,4}\s*\)?\s*"
_UNITS = (
    r"kg|g|gr|mg|lb|lbs|oz|fl\.?\s?oz|l|ltr|lt|liter|litre|ml|cl|dl|m|cm|mm|m²|m2|m³|m3|qm"
    r"|sq\.?\s?ft|ft|yd|100\s?g|100\s?ml|10\s?g|kilo|kilogramm?|gramm?|stk|stück|szt|ks|db"
    r"|buc|load|wash|dose|serving|tablet|capsule|kapsel|sheet|roll|meter|metre|opak\.?"
    r"|balení|csomag"
    r"|キロ|グラム|公斤|克|斤|그램|킬로"
)
# After the amount: "/ kg", "per 100 g", "pro Liter", "za kg", "le kilo" -- a measure.
_UNIT_AFTER = re.compile(
    _LEAD + r"(?:/|\bper\b|\bpro\b|\bje\b|\bza\b|\bpour\b|\bpar\b|\bau\b|\bal\b|\ble\b"
    r"|\bla\b|\bper\b|\bnu\b|\bpe\b)\s*(?:1\s?)?(?:" + _UNITS + r")(?![a-z])",
    re.IGNORECASE,
)
# "1個あたり", "100g당", "每100克": the CJK ways to say "per".
_UNIT_CJK = re.compile(
    r"あたり|当たり|当り|\d\s?(?:g|ml|kg)\s?당|每\s?\d*\s?(?:g|克|kg|公斤|ml|毫升)"
)
_UNIT_CJK_AFTER = re.compile(_LEAD + r"(?:あたり|当たり|当り|당)")
_UNIT_BEFORE = re.compile(
    r"unit price|price per|per unit|grundpreis|preis pro|preis je|prix au (?:kg|kilo|litre)"
    r"|prix unitaire|precio por (?:kg|unidad|litro)|precio unitario|prezzo al (?:kg|litro)"
    r"|prezzo unitario|prijs per|eenheidsprijs|preço por (?:kg|unidade)|jämförpris|kilopris"
    r"|literpris|enhedspris|cena za (?:kg|litr|jednostk)|cena jednostkowa|jednotková cena"
    r"|cena za (?:kus|kg|litr)|egységár|pret per|preț per|preț unitar|цена за"
    r"|単価|单价|單價|단가",
    re.IGNORECASE,
)
_INSTALMENT = (
    r"per month|a month|/\s?mo(?:nth)?\b|monthly|\bmo\.|installments?|instalments?"
    r"|interest[- ]free|pay in \d|payments? of|financ\w*|klarna|afterpay|affirm|sezzle"
    r"|monatlich|im monat|/\s?monat|\braten\b|ratenzahlung|finanzierung|par mois|/\s?mois"
    r"|mensualit\w*|en \d+ fois|al mes\b|/\s?mes\b|\bcuotas?\b|al mese|/\s?mese"
    r"|\brate\b|\brata\b|per maand|p/m\b|por m[eê]s|\bparcelas?\b|sem juros|\brat[aey]\b"
    r"|miesięcznie|/\s?mies|splát\w*|měsíčně|mesačne|/\s?měs|részlet\w*|havonta|/\s?hó\b"
    r"|\blunar\b|/\s?lun[aă]|per månad|/\s?mån|delbetal\w*|kuukausi|/\s?kk\b|в месяц"
    r"|/\s?мес|рассрочк\w*|taksit|aylık|分割|月々|月額|分期|月付|每月|/\s?月|할부|/\s?월"
)
_INSTALMENT_AFTER = re.compile(
    _LEAD + r"(?:x\s?\d|\bmonths?\b|\bmeses\b|\bmesi\b|개월|ヶ月|个月|個月|" + _INSTALMENT + r")",
    re.IGNORECASE,
)
_INSTALMENT_BEFORE = re.compile(r"(?:\d\s?x|\bx)\s*$|" + _INSTALMENT, re.IGNORECASE)
_SUBSCRIPTION = re.compile(
    r"subscri\w*|auto-?ship|repeat delivery|\babo\b|abonnement|abonnier\w*|suscrip\w*"
    r"|abbonament\w*|abonament\w*|předplat\w*|előfizet\w*|подписк\w*|定期|订阅|訂閱|정기",
    re.IGNORECASE,
)
_COUPON_WORDS = (
    r"coupon|voucher|promo ?code|discount code|gutschein|rabattcode|code promo|cup[oó]n"
    r"|codice sconto|kortingscode|kupon\w*|kup[oó]n\w*|slevov\w* kód|купон|優惠券|优惠券"
    r"|折價券|折扣券|クーポン|쿠폰"
)
_COUPON = re.compile(_COUPON_WORDS, re.IGNORECASE)
# After the amount only right next to it ("$3 coupon"): a label further on names the next one.
_COUPON_AFTER = re.compile(_LEAD + r"(?:" + _COUPON_WORDS + r")", re.IGNORECASE)
_SAVE = re.compile(
    r"you save|\bsave\b|saving|savings|sie sparen|\bsparen\b|ersparnis|économis\w*|économie"
    r"|ahorr\w*|risparmi\w*|bespaar\w*|economiz\w*|oszczędz\w*|ušetří\w*|úspora|megtakarít\w*"
    r"|spórol\w*|economis\w*|\breducere\b|\bspar(?:a|er)?\b|экономия|節省|节省|立省|現省|现省"
    r"|お得|割引額|値引き?|절약|할인\s?금액|할인액|discount of",
    re.IGNORECASE,
)
_OFF_AFTER = re.compile(_LEAD + r"(?:off\b|rabatt|remise|descuento|sconto|korting|zniżk|sleva"
                        r"|kedvezmény|reducere|скидк|折|引き|할인)", re.IGNORECASE)
_SHIPPING = re.compile(
    r"shipping|delivery|postage|versand|lieferung|livraison|env[ií]o|spedizione|verzending"
    r"|bezorg\w*|frete|entrega|dostawa|wysyłka|doprava|doručení|poštovné|szállítás"
    r"|kiszállítás|livrare|\bfrakt\b|\bfragt\b|toimitus|доставк\w*|kargo|送料|运费|運費"
    r"|配送费|配送料|배송비|배송료",
    re.IGNORECASE,
)
_POINTS = re.compile(
    r"\bpoints?\b|reward|cashback|\bpunkte\b|\bpunti\b|\bpuntos\b|\bpkt\b|ポイント"
    r"|積分|积分|포인트|적립",
    re.IGNORECASE,
)
# A percentage or an amount taken off ("-20%", "- $10") is a discount, not a price.
_PERCENT_AFTER = re.compile(r"^\s?%")
# "+$29.99": an add-on (protection plan, accessory, option surcharge) on top of the price.
_PLUS_BEFORE = re.compile(r"(?:^|[\s(])\+(?:[^\w\s]{1,2})?\s?$")
# Other sellers' offers for the same item (marketplaces), new or used.
_OTHER_OFFERS = re.compile(
    r"other sellers|more buying choices|(?:new|used|refurbished)(?: \(\d+\))? from|used & new"
    r"|new & used|andere anbieter|weitere angebote|gebraucht ab|autres vendeurs|d'occasion"
    r"|otros vendedores|altri venditori|usato da|andere verkopers|inni sprzedawcy"
    r"|další prodejci|más ofertas|mais ofertas",
    re.IGNORECASE,
)
_OFFERS_AFTER = re.compile(_LEAD + r"(?:offers?\b|sellers?\b|angebote|offres|ofertas|offerte"
                           r"|aanbiedingen|ofert)", re.IGNORECASE)
_MINUS_BEFORE = re.compile(r"(?:^|[\s(])[-−](?:[^\w\s]{1,2})?\s?$")
_BEFORE_CHECKS = (
    ("instalment", _INSTALMENT_BEFORE),
    ("subscription", _SUBSCRIPTION),
    ("coupon", _COUPON),
    ("you save", _SAVE),
    ("shipping", _SHIPPING),
    ("per unit", _UNIT_BEFORE),
    ("per unit", _UNIT_CJK),
    ("points", _POINTS),
    ("other offers", _OTHER_OFFERS),
)
# Anchored at the amount, so they may read on past the next number ("/ 100 g", "x 12").
_RAW_AFTER_CHECKS = (
    ("per unit", _UNIT_AFTER),
    ("per unit", _UNIT_CJK_AFTER),
    ("instalment", _INSTALMENT_AFTER),
)
_AFTER_CHECKS = (
    ("you save", _OFF_AFTER),
    ("coupon", _COUPON_AFTER),
    ("other offers", _OFFERS_AFTER),
    ("discount", _PERCENT_AFTER),
)


def _one_pass(checks: tuple[tuple[str, re.Pattern[str]], ...]) -> re.Pattern[str]:
    """The checks as one alternation (one search instead of one per check); a match's
    ``lastgroup`` names the check."""
    return re.compile(
        "|".join(f"(?P<k{i}>{pattern.pattern})" for i, (_, pattern) in enumerate(checks)),
        re.IGNORECASE,
    )


_BEFORE_ANY = _one_pass(_BEFORE_CHECKS)
_RAW_AFTER_ANY = _one_pass(_RAW_AFTER_CHECKS)
_AFTER_ANY = _one_pass(_AFTER_CHECKS)
# The next element's words name this amount only when they start as a unit or a period
# does ("/ kg", "per month", "x 12", "a month"); "Rate lunare: 14,44 Lei" or "Coupon:" there
# name the amount that follows them.
_FOLLOWS_AS_UNIT = re.compile(
    _LEAD + r"(?:/|\bper\b|\bpro\b|\bje\b|\bza\b|\bpar\b|\bau\b|\bal\b|\ble\b|\bim\b"
    r"|\ba\b|\bx\s?\d|×|monthly|monatlich|mensuel\w*|mensual\w*|mensil\w*|miesięcznie"
    r"|měsíčně|mesačne|havonta|månadsvis|в месяц|ежемесячно|aylık|\bmonths?\b|\bmeses\b"
    r"|\bmesi\b|月々|毎月|每月|매월|あたり|当たり|당)",
    re.IGNORECASE,
)
# Words right after an earlier number that name that number ("$37 a month. Details"): in the
# window before the next amount they are not that amount's label.
_PERIOD_AFTER = re.compile(
    _LEAD + r"(?:(?:/|\bper\b|\bpro\b|\bje\b|\ba\b|\bal\b|\bpar\b|\bim\b)\s*(?:month|monat|mois"
    r"|mes|mese|maand|mies\w*|měs\w*|mo\b)\w*|monthly|months?\b|/\s?mo\b|/\s?(?:"
    + _UNITS + r")(?![a-z]))[.,;:!)]*",
    re.IGNORECASE,
)
_BEFORE_WINDOW, _AFTER_WINDOW = 40, 24
_DIGIT = re.compile(r"\d")


def _worded(window: str) -> bool:
    """Whether a window holds anything a label is made of (a letter, "/" or "%")."""
    return any(ch.isalpha() or ch in "/%" for ch in window)


def _tail_since_number(text: str) -> str:
    """The end of ``text`` after its last digit, at most _BEFORE_WINDOW characters, without
    the unit or period that names that last number."""
    last = -1
    for match in _DIGIT.finditer(text):
        last = match.end()
    start = max(last, len(text) - _BEFORE_WINDOW, 0)
    tail = text[start:]
    if last >= 0 and start == last:
        named = _PERIOD_AFTER.match(tail)
        if named is not None:
            return tail[named.end():]
    return tail


def _head_until_number(text: str) -> str:
    match = _DIGIT.search(text)
    return text[: match.start() if match else len(text)][:_AFTER_WINDOW]


def other_money(before: str, after: str, following: str = "") -> str | None:
    """What the amount is instead of a price ("per unit", "instalment", "coupon", "you save",
    "shipping", "subscription", "points", "discount", "add-on", "other offers"), judged by
    the words ``before`` it and ``after`` it in its own element; None when nothing there says
    it is other money.

    ``following`` is the text of the next element: it counts only for a unit or a period
    right after the amount ("<span>8,33 €</span><span>/ kg</span>"), since a label there
    ("Coupon:") usually names the amount that comes next.
    """
    head = _tail_since_number(before)
    if _MINUS_BEFORE.search(head):
        return "discount"
    if _PLUS_BEFORE.search(head):
        return "add-on"
    if following and not _FOLLOWS_AS_UNIT.match(following):
        following = ""
    raw = f"{after} {following}"[:_AFTER_WINDOW] if following else after[:_AFTER_WINDOW]
    for checks, combined, window in (
        (_BEFORE_CHECKS, _BEFORE_ANY, head),
        (_RAW_AFTER_CHECKS, _RAW_AFTER_ANY, raw),
        (_AFTER_CHECKS, _AFTER_ANY, _head_until_number(after)),
    ):
        if not _worded(window):
            continue  # most windows are empty or a currency sign: no label to read
        match = combined.search(window)
        if match is not None and match.lastgroup is not None:
            return checks[int(match.lastgroup[1:])][0]
    return None


_LABEL_WORDS = re.compile(
    r"\b(?:unit price|price per|per unit|ppu|price unit|installments?|instalments?|monthly"
    r"|financ\w*|subscri\w*|coupon|voucher|saving|savings|you save|shipping|delivery|points"
    r"|loyalty|reward)\b"
)


def other_money_label(label_words: str) -> str | None:
    """The same judgement for an element's class/id words ("price-per-unit", "coupon")."""
    match = _LABEL_WORDS.search(label_words)
    return match.group(0) if match else None
