"""Query text → words to match, with typo corrections against the music vocabulary.

The PostgreSQL backend needs this; Meilisearch does the same natively. The typo rules copy
Meilisearch's defaults so both backends forgive the same typos: words of 5 to 8 letters may
have one typo, longer words two, shorter words none (but words also match as prefixes, for
search-as-you-type). Corrections come only from instrument and genre names and
synonyms, looked up with a symmetric-delete index (SymSpell) so a query costs microseconds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache

from marketplace import vocab

MAX_WORDS = 8
PREFIX_FROM = 3  # shorter words match whole words only ("a" must not match everything)
ONE_TYPO_FROM = 5
TWO_TYPOS_FROM = 9
_WORD = re.compile(r"[^\W_]+")

# Filler that rarely appears in a profile: "piano lessons for adults" must not require "lessons".
_FILLER = """a an and the or for with in on at to of by my me i near online lesson lessons class
classes teacher teachers tutor tutors course courses learn learning instructor private someone
who speaks speaking"""
STOP_WORDS = frozenset(_FILLER.split())


@dataclass(frozen=True)
class Word:
    text: str
    alternatives: tuple[str, ...]  # vocabulary words within the typo budget, ``text`` excluded
    prefix: bool  # also matches the words it starts


def words(q: str) -> list[Word]:
    found = _WORD.findall(vocab.normalize_key(q))
    kept = [w for w in found if w not in STOP_WORDS] or found
    kept = kept[:MAX_WORDS]
    # Every word of 3+ letters matches as a prefix ("jaz piano" finds jazz pianists); Meilisearch
    # only does so for the last one, so the PostgreSQL backend is a little more forgiving.
    return [Word(text=w, alternatives=corrections(w), prefix=len(w) >= PREFIX_FROM) for w in kept]


def typo_budget(word: str) -> int:
    if len(word) >= TWO_TYPOS_FROM:
        return 2
    return 1 if len(word) >= ONE_TYPO_FROM else 0


@lru_cache(maxsize=8192)
def corrections(word: str) -> tuple[str, ...]:
    """Vocabulary words within ``typo_budget(word)`` edits of ``word`` (not ``word`` itself)."""
    budget = typo_budget(word)
    if not budget or not word.isascii():
        return ()
    index = _delete_index()
    candidates: set[str] = set()
    for variant in _deletes(word, budget):
        candidates.update(index.get(variant, ()))
    return tuple(
        sorted(c for c in candidates if c != word and _osa_distance(word, c, budget) <= budget)
    )


@cache
def vocabulary_words() -> frozenset[str]:
    out: set[str] = set()
    for term in (*vocab.INSTRUMENTS, *vocab.GENRES):
        for label in (term.slug, term.name, *term.synonyms):
            out.update(w for w in _WORD.findall(vocab.normalize_key(label)) if len(w) >= 3)
    return frozenset(out)


@cache
def _delete_index() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = defaultdict(set)
    for word in vocabulary_words():
        for variant in _deletes(word, 2):
            index[variant].add(word)
    return {k: frozenset(v) for k, v in index.items()}


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` characters from it."""
    level = {word}
    out = {word}
    for _ in range(depth):
        level = {w[:i] + w[i + 1 :] for w in level for i in range(len(w)) if len(w) > 1}
        out |= level
    return out


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours counts as one typo)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


@dataclass(frozen=True)
class Meaning:
    """The instruments and genres a query word names (exactly, by prefix or with a typo)."""

    instruments: tuple[str, ...]
    genres: tuple[str, ...]


@lru_cache(maxsize=8192)
def meaning(word: Word) -> Meaning:
    forms = {word.text, *word.alternatives}
    if word.prefix and len(word.text) >= PREFIX_FROM:
        forms |= {w for w in vocabulary_words() if w.startswith(word.text)}
    index = _term_index()
    instruments = sorted({slug for form in forms for slug in index[0].get(form, ())})
    genres = sorted({slug for form in forms for slug in index[1].get(form, ())})
    return Meaning(tuple(instruments), tuple(genres))


@cache
def _term_index() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """vocabulary word → slugs of the instruments, and of the genres, whose labels use it."""
    out: tuple[dict[str, set[str]], dict[str, set[str]]] = (defaultdict(set), defaultdict(set))
    for side, terms in enumerate((vocab.INSTRUMENTS, vocab.GENRES)):
        for term in terms:
            for label in (term.slug, term.name, *term.synonyms):
                for w in _WORD.findall(vocab.normalize_key(label)):
                    out[side][w].add(term.slug)
    return out
