"""Money is integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Currencies whose minor unit is not a hundredth.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2, "BHD": 3, "KWD": 3}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "BRL": "R$", "INR": "₹"}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def format_money(minor: int, currency: str) -> str:
    """The one way money reads on a page or in a message: "€29.50", "€30" (whole amounts drop
    their cents), "¥1,000", "-€2.50", "12.345 KWD" (no common symbol: the code after)."""
    exp = exponent(currency)
    major = Decimal(abs(minor)).scaleb(-exp)
    text = f"{major:,.{exp}f}"
    if exp and text.endswith("." + "0" * exp):
        text = text[: -(exp + 1)]
    sign = "-" if minor < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def parse_major(text: str, currency: str) -> int | None:
    """'45', '45.50' or '45,50' in major units → minor units; None for blank; ValueError if bad."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        return None
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value() or value < 0:
        raise ValueError(f"not an amount: {text!r}")
    return int(minor)
