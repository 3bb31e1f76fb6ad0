"""Amounts of money: what a person may type, the limit every balance respects, and how the
guild's currency is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import N_, _, format_number

__all__ = ["ALL", "MAX_BALANCE", "Amount", "Currency", "parse_amount", "validate_amount"]

# The most any wallet + bank may hold: far below 2**63 - 1 so sums and net worth never overflow.
MAX_BALANCE = 10**18
ALL: Literal["all"] = "all"
Amount = int | Literal["all"]

_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9}
# Digits, or digits in groups of three split by one kind of separator (`1,000,000`, `1 000`),
# then a fraction and a suffix (`2.5k`). `1,0,0` and `0,001` fit neither form: refused.
_AMOUNT = re.compile(
    r"(?P<whole>\d+|[1-9]\d{0,2}(?P<sep>[,_ ])\d{3}(?:(?P=sep)\d{3})*)"
    r"(?:\.(?P<fraction>\d+))? ?(?P<suffix>[kmb])?"
)
_SEPARATED_DIGITS = re.compile(r"[\d,_ ]*\d[,_ ][\d,_ .]*[kmb]?")
# Finer than the next smaller unit (`0.0001b`) reads as a slip as easily as an amount.
_SUFFIX_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class Currency:
    name: str
    symbol: str

    def format(self, amount: int) -> str:
        """`1250` → `🪙 1,250`: thousands separators, the guild's symbol."""
        return f"{self.symbol} {format_number(amount)}"


def parse_amount(text: str | int, *, allow_all: bool = True) -> Amount:
    """What a person typed as an amount: `250`, `1,000`, `2.5k`, `3m`, or `all`.

    Raises ValidationError (nothing is changed) for zero, negative, fractional or absurd amounts,
    and for input a person could read two ways: separators not between groups of three (`1,0,0`),
    a point without a suffix (`1.000`), a suffix with more than three decimals (`0.0001b`).
    """
    if isinstance(text, int):
        return validate_amount(text)
    cleaned = text.strip().lower()
    if allow_all and cleaned in ("all", "max"):
        return ALL
    if cleaned.startswith("-"):
        raise ValidationError(_("The amount must be positive."))
    match = _AMOUNT.fullmatch(cleaned)
    if not match:
        raise _not_an_amount(text, cleaned, allow_all=allow_all)
    whole = match["whole"].replace(match["sep"], "") if match["sep"] else match["whole"]
    fraction, suffix = match["fraction"], match["suffix"]
    if len(whole.lstrip("0")) > len(str(MAX_BALANCE)):
        # Refused before int(), which raises ValueError past 4,300 digits.
        return validate_amount(MAX_BALANCE + 1)
    if fraction is None:
        return validate_amount(int(whole) * _SUFFIXES.get(suffix or "", 1))
    if suffix is None:
        # `1.000` is one coin to some readers and a thousand to others.
        raise ValidationError(_("Amounts are whole numbers of coins."))
    scale = _SUFFIXES[suffix]
    digits = fraction.rstrip("0")
    if len(digits) >= len(str(scale)):  # finer than one coin; also keeps int() short
        raise ValidationError(_("Amounts are whole numbers of coins."))
    value, rest = divmod(int(whole + digits) * scale, 10 ** len(digits))
    if rest:
        raise ValidationError(_("Amounts are whole numbers of coins."))
    if len(digits) > _SUFFIX_DECIMALS:
        # Translators: {amount} is the same amount written shorter, e.g. `100k`.
        raise ValidationError(
            _("{text} has more than three digits after the point: write it as {amount}.").format(
                text=shown_input(text), amount=_short_amount(value)
            )
        )
    return validate_amount(value)


def _not_an_amount(text: str, cleaned: str, *, allow_all: bool) -> ValidationError:
    if _SEPARATED_DIGITS.fullmatch(cleaned):
        return ValidationError(
            _(
                "{text} is not an amount: separators go between groups of three digits, as in "
                "`1,000,000`."
            ).format(text=shown_input(text))
        )
    if allow_all:
        return ValidationError(
            _(
                "{text} is not an amount: use a whole number such as `250`, `1,000` or `2.5k`, "
                "or `all`."
            ).format(text=shown_input(text))
        )
    return ValidationError(
        _("{text} is not an amount: use a whole number such as `250`, `1,000` or `2.5k`.").format(
            text=shown_input(text)
        )
    )


def _short_amount(value: int) -> str:
    """`value` in the largest unit that needs at most three decimals: 100000 → `100k`."""
    for suffix, scale in sorted(_SUFFIXES.items(), key=lambda item: -item[1]):
        whole, rest = divmod(value, scale)
        if whole and rest % (scale // 10**_SUFFIX_DECIMALS) == 0:
            decimals = f".{rest * 10**_SUFFIX_DECIMALS // scale:03d}".rstrip("0") if rest else ""
            return f"`{whole:,}{decimals}{suffix}`"
    return f"`{value:,}`"


# What an amount is (`what=`): its refusals when zero or over the limit.
_LIMIT_REFUSALS = {
    "amount": (N_("The amount must be more than zero."), N_("The amount can be at most {limit}.")),
    "price": (N_("The price must be more than zero."), N_("The price can be at most {limit}.")),
}


def validate_amount(value: int, *, what: str = "amount") -> int:
    """Positive and within the limit every balance respects (`what`: "amount" or "price")."""
    too_small, too_large = _LIMIT_REFUSALS[what]
    if value <= 0:
        raise ValidationError(_(too_small))
    if value > MAX_BALANCE:
        raise ValidationError(_(too_large).format(limit=format_number(MAX_BALANCE)))
    return value
