"""Public ids shown to people: short, unambiguous, unique per kind (e.g. ``W-7K2QX``).

They are separate from primary keys. The alphabet leaves out characters that are easy to confuse
when read or copied by hand (0/O, 1/I/L, U/V), so a person can type an id from a screenshot.
Uniqueness is enforced by a unique index on the column; with 29**5 ≈ 20 million ids per prefix, a
caller that hits the (rare) IntegrityError simply draws again.
"""

from __future__ import annotations

import re
import secrets
from random import Random

ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
DEFAULT_LENGTH = 5
PUBLIC_ID_MAX_LENGTH = 16  # column width for public ids: prefix, dash and body fit comfortably

_PREFIX = re.compile(r"^[A-Z]{1,4}$")


def new_public_id(prefix: str, *, length: int = DEFAULT_LENGTH, rng: Random | None = None) -> str:
    """A fresh public id such as ``W-7K2QX``.

    `prefix` names the kind (W = warning, A = automation, G = giveaway, ...), 1-4 capital letters.
    Pass `rng` for reproducible ids in tests; otherwise the system's secure source is used.
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"prefix must be 1-4 capital letters, got {prefix!r}")
    if not 4 <= length <= PUBLIC_ID_MAX_LENGTH - len(prefix) - 1:
        raise ValueError(f"length must leave room for the prefix in 16 characters: {length}")
    choose = rng.choice if rng is not None else secrets.choice
    return f"{prefix}-{''.join(choose(ALPHABET) for _ in range(length))}"


def normalize_public_id(text: str) -> str:
    """What a person typed, made comparable to a stored id: ``w 7k2qx `` → ``W-7K2QX``."""
    return text.strip().upper().replace(" ", "-").replace("_", "-")
