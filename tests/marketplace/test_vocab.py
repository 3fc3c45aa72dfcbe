"""The curated vocabulary: unique identifiers and forgiving free-text matching."""

from __future__ import annotations

import re

import pytest

from marketplace import vocab
from marketplace.vocab import (
    FORMATS,
    GENRES,
    INSTRUMENTS,
    LANGUAGE_NATIVE_NAMES,
    LANGUAGES,
    LEVELS,
    Term,
    normalize_key,
    resolve_genre,
    resolve_instrument,
)

VOCABULARIES = {"instruments": INSTRUMENTS, "genres": GENRES, "levels": LEVELS, "formats": FORMATS}
SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


@pytest.mark.parametrize("terms", VOCABULARIES.values(), ids=VOCABULARIES.keys())
def test_slugs_are_unique_lowercase_ascii(terms: tuple[Term, ...]) -> None:
    slugs = [t.slug for t in terms]
    assert len(slugs) == len(set(slugs))
    assert all(SLUG.match(slug) for slug in slugs), slugs


@pytest.mark.parametrize("terms", VOCABULARIES.values(), ids=VOCABULARIES.keys())
def test_no_label_resolves_to_two_terms(terms: tuple[Term, ...]) -> None:
    owners: dict[str, str] = {}
    for term in terms:
        for label in {normalize_key(x) for x in (term.slug, term.name, *term.synonyms)}:
            assert owners.setdefault(label, term.slug) == term.slug, (label, term.slug)


@pytest.mark.parametrize("terms", VOCABULARIES.values(), ids=VOCABULARIES.keys())
def test_no_repeated_synonym_within_a_term(terms: tuple[Term, ...]) -> None:
    for term in terms:
        labels = [term.name.lower(), *(s.lower() for s in term.synonyms)]
        assert len(labels) == len(set(labels)), term.slug


def test_sizes_and_fixed_slugs() -> None:
    assert len(INSTRUMENTS) >= 45
    assert len(GENRES) >= 28
    assert [t.slug for t in LEVELS] == ["beginner", "intermediate", "advanced", "professional"]
    assert [t.slug for t in FORMATS] == ["online", "studio", "student_home"]
    assert all(t.family for t in (*INSTRUMENTS, *GENRES))


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Sax", "saxophone"),
        ("vocals", "voice"),
        ("Singing", "voice"),
        ("voice", "voice"),
        ("Guitarra Clásica", "classical-guitar"),
        ("guitarra clasica", "classical-guitar"),
        ("GUITARRA_CLASICA", "classical-guitar"),
        ("drum kit", "drums"),
        ("Drumset", "drums"),
        ("drum-kit", "drums"),
        ("bass", "bass-guitar"),
        ("upright bass", "double-bass"),
        ("Contrabass", "double-bass"),
        ("keys", "keyboard"),
        ("fiddle", "violin"),
        ("Klavier", "piano"),
        ("piano forte", "piano"),
        ("Flöte", "flute"),
        ("  cello ", "cello"),
        ("Cajon", "cajon"),
        ("french_horn", "french-horn"),
    ],
)
def test_resolve_instrument(text: str, slug: str) -> None:
    term = resolve_instrument(text)
    assert term is not None and term.slug == slug


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("r&b", "r-and-b"),
        ("RnB", "r-and-b"),
        ("hip hop", "hip-hop"),
        ("rap", "hip-hop"),
        ("EDM", "electronic"),
        ("show tunes", "musical-theatre"),
        ("Música Clásica", "classical"),
        ("bossa nova", "bossa-nova"),
        ("K-Pop", "k-pop"),
    ],
)
def test_resolve_genre(text: str, slug: str) -> None:
    term = resolve_genre(text)
    assert term is not None and term.slug == slug


@pytest.mark.parametrize("text", ["", "   ", "kazoo orchestra", "-"])
def test_resolve_unknown_is_none(text: str) -> None:
    assert resolve_instrument(text) is None
    assert resolve_genre(text) is None


def test_exact_slug_lookups() -> None:
    assert vocab.instrument("piano") is not None
    assert vocab.instrument("Piano") is None  # slug lookups are exact; use resolve_* for text
    assert vocab.genre("fado") is not None
    assert vocab.level("advanced") is not None
    assert vocab.lesson_format("student_home") is not None
    assert vocab.format_("online") is vocab.lesson_format("online")


def test_languages() -> None:
    groups = (
        "en de fr es pt it nl pl sv no da fi cs el tr ru uk ar he hi bn ur fa zh ja ko",
        "vi th id ms tl sw ro hu bg hr sr sk sl lt lv et ga cy ca eu gl is af am yo zu",
    )
    required = {code for group in groups for code in group.split()}
    assert set(required) <= set(LANGUAGES)
    assert len(LANGUAGES) >= 85
    assert set(LANGUAGES) == set(LANGUAGE_NATIVE_NAMES)
    assert all(len(code) == 2 and code.islower() for code in LANGUAGES)
    assert vocab.language_name("de") == "German"
    assert vocab.language_name("DE") == "German"
    assert LANGUAGE_NATIVE_NAMES["de"] == "Deutsch"
    assert vocab.language_name("xx") is None


def test_synonym_groups() -> None:
    groups = vocab.synonym_groups(INSTRUMENTS)
    assert len(groups) == len(INSTRUMENTS)
    sax = next(g for g in groups if "sax" in g)
    assert sax[0] == "saxophone"
    assert all(word == word.lower() for group in groups for word in group)


def test_normalize_key() -> None:
    assert normalize_key("  Guitarra\u2013Clásica_X ") == "guitarra clasica x"
    assert normalize_key("Łódź") == "lodz"
    assert normalize_key("Tromsø") == "tromso"
