"""Public ids: short, unambiguous, reproducible with a seeded generator."""

from __future__ import annotations

import re
from random import Random

import pytest

from models.ids import ALPHABET, PUBLIC_ID_MAX_LENGTH, new_public_id, normalize_public_id


def test_an_id_is_the_prefix_a_dash_and_five_unambiguous_characters() -> None:
    public_id = new_public_id("W")
    assert re.fullmatch(rf"W-[{ALPHABET}]{{5}}", public_id)


def test_the_alphabet_leaves_out_look_alike_characters() -> None:
    assert not set("01OILUV") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET)


def test_a_seeded_generator_gives_the_same_ids() -> None:
    assert new_public_id("G", rng=Random(7)) == new_public_id("G", rng=Random(7))
    assert new_public_id("G", rng=Random(7)) != new_public_id("G", rng=Random(8))


def test_ids_rarely_repeat() -> None:
    ids = {new_public_id("I") for _ in range(2000)}
    assert len(ids) >= 1995  # 29**5 possibilities: a few collisions at most


def test_ids_fit_the_public_id_columns() -> None:
    longest = new_public_id("ABCD", length=PUBLIC_ID_MAX_LENGTH - 5)
    assert len(longest) == PUBLIC_ID_MAX_LENGTH


@pytest.mark.parametrize("prefix", ["", "w", "TOOLONG", "W1", "W-"])
def test_a_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        new_public_id(prefix)


@pytest.mark.parametrize("length", [3, 12])
def test_a_length_that_does_not_fit_is_refused(length: int) -> None:
    with pytest.raises(ValueError):
        new_public_id("ABCD", length=length)


@pytest.mark.parametrize("typed", ["w-7k2qx", " W-7K2QX ", "w 7k2qx", "W_7K2QX"])
def test_what_people_type_is_normalised(typed: str) -> None:
    assert normalize_public_id(typed) == "W-7K2QX"
