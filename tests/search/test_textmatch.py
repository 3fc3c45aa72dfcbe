from __future__ import annotations

from search import textmatch


def test_typo_budget_follows_word_length() -> None:
    assert textmatch.corrections("vilon") == ("violon",)
    assert "piano" in textmatch.corrections("paino")  # a swap is one typo
    assert "guitar" in textmatch.corrections("gitar")
    assert textmatch.corrections("jaz") == ()  # too short for a typo: matched as a prefix
    assert "saxophone" in textmatch.corrections("saxophnoe")


def test_words_drop_filler_but_never_everything() -> None:
    assert [w.text for w in textmatch.words("Piano lessons for adults")] == ["piano", "adults"]
    assert [w.text for w in textmatch.words("lessons")] == ["lessons"]
    assert [w.text for w in textmatch.words("Guitarra Clásica")] == ["guitarra", "clasica"]
    assert all(w.prefix for w in textmatch.words("jaz pia"))
    assert not textmatch.words("a")[0].prefix


def test_meaning_names_instruments_and_genres() -> None:
    (word,) = textmatch.words("vilon")
    assert textmatch.meaning(word).instruments == ("violin",)
    (word,) = textmatch.words("sax")
    assert textmatch.meaning(word).instruments == ("saxophone",)
    (word,) = textmatch.words("bossa")
    assert "bossa-nova" in textmatch.meaning(word).genres
