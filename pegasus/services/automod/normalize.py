"""Text as automod compares it: the evasions people use to slip a word past a filter undone.

`normalize` folds accents (NFKD, combining marks dropped), removes zero-width and other invisible
characters, case-folds, and reads leetspeak inside words (`sh1t` → `shit`). Repeated letters are
folded too, without making different words equal: each word is kept as its letters with runs
collapsed (`baaaad` → `bad`) and the length of each run, and a filtered word matches a word of a
message when their collapsed letters are equal and every run of the message's word is at least
as long as the filtered word's (`baaaad` matches `bad`; `as` does not match `ass`). Everything
here is linear in the text and uses no regular expression.
"""

from __future__ import annotations

import unicodedata
from itertools import groupby

__all__ = ["Normalized", "Word", "fold_word", "normalize", "normalize_phrase"]

# Characters that stand for letters inside a word.
LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
    }
)
# Punctuation around a word is punctuation, not leetspeak ("shit!" is not "shiti").
EDGE_PUNCTUATION = ".,!?;:'\"()[]{}<>*_~`-"
# Marks and invisible formatting characters: accents after NFKD, zero-width spaces and joiners,
# soft hyphens, direction marks, variation selectors.
DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
EXTRA_INVISIBLE = frozenset({"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"})

# A word as compared: its letters with repeats collapsed, and the length of each run.
Word = tuple[str, tuple[int, ...]]


def fold_word(word: str) -> Word:
    runs = [(char, len(tuple(run))) for char, run in groupby(word)]
    return "".join(char for char, _ in runs), tuple(length for _, length in runs)


class Normalized:
    """A message's words in normalized form.

    `keys` are the collapsed words (a set, for one intersection against a rule's words),
    `words` the folded words in order, `padded` the collapsed words joined by single spaces
    with a space at each end (so that a phrase is found as `" phrase " in padded`).
    """

    __slots__ = ("keys", "padded", "words")

    def __init__(self, words: list[Word]) -> None:
        self.words = words
        self.keys = frozenset(key for key, _runs in words)
        self.padded = " " + " ".join(key for key, _runs in words) + " "

    def has_word(self, wanted: Word) -> bool:
        key, runs = wanted
        if key not in self.keys:
            return False
        return any(k == key and covers(r, runs) for k, r in self.words)

    def has_phrase(self, wanted: tuple[Word, ...]) -> bool:
        if " " + " ".join(key for key, _ in wanted) + " " not in self.padded:
            return False
        size = len(wanted)
        for start in range(len(self.words) - size + 1):
            window = self.words[start : start + size]
            if all(
                key == want_key and covers(runs, want_runs)
                for (key, runs), (want_key, want_runs) in zip(window, wanted, strict=True)
            ):
                return True
        return False


def covers(runs: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    """Whether a word with `runs` is the wanted word with letters repeated, not one with fewer."""
    return all(have >= need for have, need in zip(runs, wanted, strict=True))


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    category = unicodedata.category
    return "".join(
        char
        for char in decomposed
        if category(char) not in DROPPED_CATEGORIES and char not in EXTRA_INVISIBLE
    )


def _plain_words(text: str) -> list[str]:
    if not text.isascii():
        text = _strip_marks(text)
    words = []
    for token in text.casefold().split():
        core = token.strip(EDGE_PUNCTUATION)
        if core:
            words.append(core.translate(LEET))
    return words


def normalize(text: str) -> Normalized:
    """The words of `text` with accents, invisible characters, case, leetspeak and repeated
    letters folded away."""
    return Normalized([fold_word(word) for word in _plain_words(text)])


def normalize_phrase(phrase: str) -> str:
    """A filter's word or phrase as stored: accents, case and leetspeak folded, its letters'
    repeats kept (they say how many a message's word needs at least)."""
    return " ".join(_plain_words(phrase))
