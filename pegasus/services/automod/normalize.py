"""Filtered words as RE2 patterns that see through the evasions people use to slip past them.

A filtered word is stored folded (`normalize_phrase`: accents stripped by NFKD, case-folded,
leetspeak read, `B4D` → `bad`). A message's text is folded by `fold_text`: accents and
look-alike letters (`á`, `ａ`, `𝐚`) to their base letters by NFKD, combining marks and invisible
characters (zero-width spaces and joiners, soft hyphens) removed, case-folded; ASCII text, and
text whose only other characters are emoji, skips all but the case-fold. `word_pattern` turns
the stored words into one RE2 pattern over that text, in which each letter also matches its
leetspeak forms (`a`: `4`, `@`) and may be repeated: a run of k letters in the word needs at
least k in the message, so `baaaad` is `bad` but `as` is not `ass`. A phrase's words may be
apart by any non-letters; a whole word has no letter or digit right before or after it.

So a message costs one fold and one pass of RE2 (linear in its length) for all the words of a
guild; no Python regular expression ever reads member text.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from itertools import groupby

__all__ = ["fold_text", "needs_folding_pattern", "normalize_phrase", "word_pattern"]

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
# soft hyphens, direction marks.
DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
# Hangul fillers and the combining grapheme joiner render as nothing too.
EXTRA_INVISIBLE = "\u034f\u115f\u1160\u3164\uffa0"
# Neither a letter nor a digit: what stands around a whole word and between a phrase's words.
NOT_WORD = r"[^\pL\pN]"


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    category = unicodedata.category
    return "".join(
        char
        for char in decomposed
        if category(char) not in DROPPED_CATEGORIES and char not in EXTRA_INVISIBLE
    )


ASCII = frozenset(map(chr, range(128)))
# Non-ASCII characters seen, and whether they pass unchanged (no accent, not invisible, nothing
# to decompose): most messages that are not ASCII hold only emoji, which need no work.
_UNCHANGED: dict[str, bool] = {}
_UNCHANGED_LIMIT = 20_000


def _unchanged(char: str) -> bool:
    known = _UNCHANGED.get(char)
    if known is None:
        known = (
            unicodedata.category(char) not in DROPPED_CATEGORIES
            and char not in EXTRA_INVISIBLE
            and unicodedata.is_normalized("NFKD", char)
        )
        if len(_UNCHANGED) < _UNCHANGED_LIMIT:
            _UNCHANGED[char] = known
    return known


def fold_text(text: str) -> str:
    """A message's text as word patterns read it (see the module's docstring)."""
    if not text.isascii() and not all(map(_unchanged, set(text).difference(ASCII))):
        text = _strip_marks(text)
    return text.casefold()


# Beyond the Basic Multilingual Plane, where letters that fold live: mathematical letters,
# enclosed letters, tags and variation selectors (invisible).
ASTRAL_FOLDING = ((0x1D400, 0x1D800), (0x1F100, 0x1F200), (0xE0000, 0xE0080), (0xE0100, 0xE01F0))


def _folds(char: str) -> bool:
    return (
        unicodedata.category(char) in DROPPED_CATEGORIES
        or char in EXTRA_INVISIBLE
        or not unicodedata.is_normalized("NFKD", char)
    )


@cache
def needs_folding_pattern() -> str:
    """An RE2 character class of the characters `fold_text` changes besides their case
    (accented and look-alike letters, marks, invisible characters); built once."""
    codes = [code for code in range(0x80, 0x10000) if _folds(chr(code))]
    for low, high in ASTRAL_FOLDING:
        codes += [code for code in range(low, high) if _folds(chr(code))]
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(
        f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}"
        for low, high in ranges
    )
    return f"[{body}]"


def normalize_phrase(phrase: str) -> str:
    """A filter's word or phrase as stored: accents, case and leetspeak folded, its words apart
    by single spaces, its letters' repeats kept (a message's word needs at least as many)."""
    if not phrase.isascii():
        phrase = _strip_marks(phrase)
    words = []
    for token in phrase.casefold().split():
        core = token.strip(EDGE_PUNCTUATION)
        if core:
            words.append(core.translate(LEET))
    return " ".join(words)


def _letter_class(char: str) -> str:
    """The characters that stand for `char` in a folded message: itself and its leetspeak."""
    symbols = "".join(chr(code) for code, letter in LEET.items() if letter == char)
    if not symbols:
        return _escape(char)
    return "[" + "".join(_escape_in_class(form) for form in char + symbols) + "]"


def _escape(char: str) -> str:
    if char.isalnum() or not char.isascii():
        return char
    return "\\" + char  # RE2's syntax characters are all ASCII


def _escape_in_class(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


@cache
def _part_pattern(part: str) -> str:
    runs = []
    for char, run in groupby(part):
        count = len(tuple(run))
        repeat = "+" if count == 1 else f"{{{count},}}"
        runs.append(_letter_class(char) + repeat)
    return "".join(runs)


def word_pattern(words: list[str], *, whole_word: bool) -> str:
    """An RE2 pattern finding any of `words` (as `normalize_phrase` stores them) in
    `fold_text(message)`; see the module's docstring for what it sees through."""
    bodies = [f"{NOT_WORD}+".join(_part_pattern(part) for part in word.split()) for word in words]
    body = "(?:" + "|".join(bodies) + ")"
    return f"(?:^|{NOT_WORD}){body}(?:{NOT_WORD}|$)" if whole_word else body
