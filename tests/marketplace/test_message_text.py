"""Hostile Markdown and links in messages come out harmless; contact details are recognised."""

from __future__ import annotations

import random
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from marketplace import text as text_module
from marketplace.contact_details import ContactKind, find_contact_details
from marketplace.text import plain_text, render_message

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "![x](https://tracker.example/pixel.png)",
    '[x](https://ok.example "onmouseover=alert(1)")',
    "<a href='https://evil.example' onclick='steal()'>hi</a>",
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    "**bold <svg onload=alert(1)>**",
    "`<script>`",
    '[x](https://a.example/"><script>alert(1)</script>)',
]


ALLOWED = {"p", "br", "strong", "em", "s", "del", "ul", "ol", "li", "a", "blockquote", "code"}
ALLOWED |= {"pre"}
LINK_ATTRIBUTES = {"href", "title", "rel", "target"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_is_inert(source: str) -> None:
    parser = _Elements()
    parser.feed(render_message(source))
    for tag, attrs in parser.found:
        assert tag in ALLOWED, (source, tag)
        allowed_attrs = LINK_ATTRIBUTES if tag == "a" else set()
        assert set(attrs) <= allowed_attrs, (source, tag, attrs)
        if tag == "a" and attrs.get("href") is not None:
            assert urlsplit(attrs["href"] or "").scheme in {"http", "https", "mailto"}, source
            assert attrs["rel"] == "nofollow noopener noreferrer ugc"


def test_links_are_made_safe() -> None:
    html = render_message("See [the score](https://imslp.example/clair) or https://duet.example/x")
    assert html.count('rel="nofollow noopener noreferrer ugc"') == 2
    assert html.count('target="_blank"') == 2
    # The title always shows where a link really goes.
    assert 'title="https://imslp.example/clair"' in html
    misleading = render_message('[duet.example](https://evil.example "Duet")')
    assert 'title="https://evil.example"' in misleading
    assert 'title="Duet"' not in misleading


def test_the_subset_keeps_what_conversations_need() -> None:
    html = render_message("**bold** *it* ~~old~~ `code`\n- one\n- two\n\n> quote\nline two")
    for tag in ["<strong>", "<em>", "<s>", "<code>", "<ul>", "<li>", "<blockquote>", "<br"]:
        assert tag in html, tag
    assert "<h1" not in render_message("# Not a heading")
    assert plain_text("**Hi** [there](https://x.example)\n\n- a", 9) == "Hi there…"


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mail me: ana.silva@gmail.com", {ContactKind.EMAIL}),
        ("ana dot silva at gmail dot com", {ContactKind.EMAIL}),
        ("call +351 912 345 678", {ContactKind.PHONE}),
        ("my number is 0912-345-678", {ContactKind.PHONE}),
        ("(555) 123-4567", {ContactKind.PHONE}),
        ("add me on WhatsApp", {ContactKind.MESSENGER}),
        ("t.me/anaguitar", {ContactKind.MESSENGER}),
        ("lesson on 2026-05-04 at 17:00?", set()),
        ("practise bars 12 to 48 at 120 bpm for 20 minutes", set()),
        ("the signal chain: pedal, amp, mic", set()),
        ("it costs 45 EUR, see you at 5", set()),
    ],
)
def test_contact_details(text: str, kinds: set[ContactKind]) -> None:
    assert find_contact_details(text) == kinds


def test_inert_text_skips_markdown_with_the_same_result() -> None:
    """The shortcut for plain lines must give exactly what the full Markdown path gives."""
    rng = random.Random(18)
    common = list("abcdeXYZ é日 019 ,.;:?!'()-")
    tricky = [*list('*_~`[]<>&"#|\\/@=+\n'), "  ", "www.", "http", "://", "example.com"]
    tricky += ["mailto:", "1. ", "- ", "(c)", "--", ". ", ": ", "e.g", "x.y"]
    samples = [
        "Practice bars 5 to 13 slowly, please.",
        "See you at 5: bring the book.",
        "Ok. Thanks!",
        "Is it (really) today?",
        "It's fine - really",
    ]
    for _ in range(20_000):
        pool = common if rng.random() < 0.6 else common + tricky
        samples.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 24))))
    checked = 0
    for source in samples:
        if not text_module.is_inert(source):
            continue
        checked += 1
        assert text_module.render_message(source) == f"<p>{source}</p>"
        assert text_module._render_message_fully(source) == f"<p>{source}</p>", source
        assert text_module.plain_text(source) == text_module._plain_text_fully(source), source
    assert checked > 1000
    for source in ("example.com is mine", "1. first", "- item", "a  b", "a *b*", "x:y", "a\nb"):
        assert not text_module.is_inert(source)
