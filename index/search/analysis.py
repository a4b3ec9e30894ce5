"""Words as every full-text engine indexes them, in Python.

One analysis for all engines, so that they find the same pages: Tantivy's `en_stem` chain
(for `text` and `title`) and its `default` chain (for `url`). A word is a run of what Rust
calls alphanumeric (Unicode's Alphabetic property, which takes in the vowel signs of Indic
scripts, and its numbers); a word of MAX_WORD_BYTES bytes or more in UTF-8 is dropped (its
position stays empty); words are lower-cased letter by letter; `en_stem` then takes the
Snowball English stem. No stop words: "on behalf of" is a phrase of three words. The Whoosh
engine builds its analyser from these functions, snippets find query words with them, and
tests/test_search.py checks them word for word against Tantivy's own chains.
"""

from __future__ import annotations

import regex
import Stemmer

# the `regex` module knows Unicode's Alphabetic property (Python's `re` does not); its Unicode
# may be newer than Rust's in Tantivy, which then splits at a letter assigned since
WORD = regex.compile(r"[\p{Alphabetic}\p{N}]+")
WORD_CHAR = regex.compile(r"[\p{Alphabetic}\p{N}]")
# Tantivy's RemoveLongFilter in both chains: a word this long or longer is dropped
MAX_WORD_BYTES = 40
# what a full-text index written with this analysis records, to refuse one written otherwise
ANALYSIS = ("alphabetic-or-numeric words under 40 bytes, lower-cased, Snowball English, "
            "no stop words")

_SNOWBALL = Stemmer.Stemmer("english")
_STEMS: dict[str, str] = {}  # word as written -> its stem ("" if too long)
_STEMS_LIMIT = 500_000


def lower(word: str) -> str:
    """A word in lower case letter by letter, as Tantivy's LowerCaser does: Python's
    str.lower() alone would make a final capital sigma the final form ς."""
    return (word.replace("Σ", "σ") if "Σ" in word else word).lower()


def snowball_stem(word: str) -> str:
    """The Snowball English stem of a lower-cased word, as Tantivy's en_stem gives it."""
    return _SNOWBALL.stemWord(word)


def is_long(word: str) -> bool:
    """Whether the engines drop this word for its length."""
    return len(word) * 4 >= MAX_WORD_BYTES and len(word.encode()) >= MAX_WORD_BYTES


def stem_of(word: str) -> str:
    """The term a word as written is indexed as in a stemmed field ("" if dropped)."""
    found = _STEMS.get(word)
    if found is None:
        if is_long(word):  # (not remembered: a page may hold a megabyte-long "word")
            return ""
        if len(_STEMS) > _STEMS_LIMIT:
            _STEMS.clear()
        found = _STEMS[word] = snowball_stem(lower(word))
    return found


def stems(text: str) -> list[str]:
    """The terms of a text in a stemmed field, in order (dropped words left out)."""
    return [s for word in WORD.findall(text) if (s := stem_of(word))]

