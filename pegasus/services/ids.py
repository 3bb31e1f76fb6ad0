"""Ids people type, checked before they reach a query: public ids and Discord ids.

A column refuses what cannot fit it with an exception, not with an empty result: a public id
longer than its column raises Tortoise's ValidationError, a number past 64 bits raises
OverflowError (SQLite) or a driver error (PostgreSQL), and PostgreSQL refuses text holding a NUL
character. Such input is answered here the way a person reads it: a public id that cannot exist
is one that does not exist, and a number that cannot be a Discord id is refused as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from models.ids import PUBLIC_ID_MAX_LENGTH, normalize_public_id
from pegasus.errors import NotFoundError, ValidationError, shown_input
from pegasus.i18n import N_, _

__all__ = [
    "AUTOMATION",
    "CASE_NUMBER",
    "GIVEAWAY",
    "INCIDENT",
    "MAX_COUNTED_NUMBER",
    "MAX_SNOWFLAKE",
    "TICKET_NUMBER",
    "TICKET_PANEL",
    "WARNING",
    "NumberKind",
    "PublicIdKind",
    "check_snowflake",
    "parse_snowflake",
    "searchable",
    "without_nul",
]

# Every stored public id has this shape (see models.ids); anything else matches no row.
_PUBLIC_ID = re.compile(r"[A-Z]{1,4}-[0-9A-Z]+")
# Room in a refusal for the longest stored id and a little of what follows it.
_SHOWN_ID_LIMIT = PUBLIC_ID_MAX_LENGTH + 4

MAX_COUNTED_NUMBER = 2**31 - 1

# Discord ids are positive and stored in signed 64-bit columns.
MAX_SNOWFLAKE = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class PublicIdKind:
    """One kind of public id, with the sentence that says an id of this kind is unknown.

    `missing` has an `{id}` field, filled with the id as typed (code-formatted, shortened).
    """

    missing: str

    def parse(self, text: str) -> str:
        """The id as stored (``w 7k2qx`` → ``W-7K2QX``); an id that cannot exist is not found."""
        key = self.key(text)
        if key is None:
            raise self.not_found(text)
        return key

    @staticmethod
    def key(text: str) -> str | None:
        """The id as stored, or None when no row can have it (too long, wrong characters)."""
        normalized = normalize_public_id(text)
        if len(normalized) > PUBLIC_ID_MAX_LENGTH or not _PUBLIC_ID.fullmatch(normalized):
            return None
        return normalized

    def not_found(self, text: str) -> NotFoundError:
        """The refusal for an id of this kind that no row has."""
        normalized = normalize_public_id(text)
        shown = normalized if _PUBLIC_ID.fullmatch(normalized) else text.strip()
        return NotFoundError(
            _(self.missing).format(id=shown_input(shown, limit=_SHOWN_ID_LIMIT))
        )


@dataclass(frozen=True)
class NumberKind:
    """Numbers a server counts up (case #12, ticket #0012), kept in 32-bit columns.

    Discord lets a person type integers up to 2**53, far past what such a column holds.
    `missing` has a `{number}` field.
    """

    missing: str

    def check(self, number: int) -> int:
        """`number` if a row can have it; otherwise the not-found refusal."""
        if not 1 <= number <= MAX_COUNTED_NUMBER:
            raise self.not_found(number)
        return number

    def not_found(self, number: int) -> NotFoundError:
        return NotFoundError(_(self.missing).format(number=number))


WARNING = PublicIdKind(N_("There is no warning {id} in this server."))
GIVEAWAY = PublicIdKind(N_("There is no giveaway {id} in this server."))
TICKET_PANEL = PublicIdKind(N_("There is no ticket panel {id} here; see `/ticket-panel list`."))
AUTOMATION = PublicIdKind(N_("There is no automation {id} in this server."))
INCIDENT = PublicIdKind(N_("There is no incident {id} in this server."))

CASE_NUMBER = NumberKind(N_("There is no case #{number} in this server."))
TICKET_NUMBER = NumberKind(N_("There is no ticket #{number:04d} in this server."))


def searchable(text: str) -> str:
    """Typed text a query can carry, for a search by name: PostgreSQL refuses text holding a NUL
    character, and no stored name can hold one."""
    return text.replace("\x00", "")


def without_nul(value: Any) -> Any:
    """`value` (decoded JSON: a gateway payload, a request body) with every NUL character
    removed from its strings: PostgreSQL refuses NUL in text, so one typed into a title or a
    reason would otherwise fail the write."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def parse_snowflake(text: str, *, what: str = N_("a Discord id")) -> int:
    """A Discord id typed as digits; anything else, or a number no id can be, is refused."""
    digits = text.strip()
    if not _DIGITS.fullmatch(digits) or len(digits) > len(str(MAX_SNOWFLAKE)):
        raise _not_a_snowflake(text, what)
    return check_snowflake(int(digits), what=what, shown=text)


def check_snowflake(value: int, *, what: str = N_("a Discord id"), shown: object = None) -> int:
    """`value` if it can be a Discord id (1 to 2**63 - 1), else a refusal naming `what`."""
    if not 1 <= value <= MAX_SNOWFLAKE:
        raise _not_a_snowflake(value if shown is None else shown, what)
    return value


def _not_a_snowflake(typed: object, what: str) -> ValidationError:
    return ValidationError(
        _(
            "{text} is not {what}: copy it with Developer Mode on (right click → Copy ID)."
        ).format(text=shown_input(typed), what=_(what))
    )
