"""User-written Markdown rendered to safe HTML.

Two flavours share one sanitiser: ``render_markdown`` for long texts (tutor bios) and
``render_message`` for conversations and discussions, a smaller subset where a line break is a
line break, bare addresses become links, and no headings. Raw HTML in the source is always shown
as text; whatever the Markdown produces is then cleaned by ``nh3`` (an allow-list), so a hostile
source cannot smuggle scripts, event handlers, styles or ``javascript:`` links through.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

# html=False: raw HTML in the source is shown as text, never rendered.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "blockquote", "code", "h3", "h4"}

_message_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True, "typographer": False})
    .enable("linkify")
    .enable("strikethrough")
    .disable(["heading", "lheading", "image", "hr", "html_block", "html_inline", "table"])
)
_MESSAGE_TAGS = {"p", "br", "strong", "em", "s", "del", "ul", "ol", "li", "a", "blockquote", "code"}
_MESSAGE_TAGS |= {"pre"}
SAFE_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer ugc"
_SPACE = re.compile(r"\s+")


def render_markdown(source: str) -> str:
    html_out = _markdown.render(source)
    return nh3.clean(
        html_out,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
    )


def render_message(source: str) -> str:
    """A message or forum post: the Markdown subset, links made safe.

    Links keep only ``http``, ``https`` and ``mailto`` targets (anything else loses its
    ``href``), open in a new tab, carry ``rel="nofollow noopener noreferrer ugc"`` (no referrer,
    no access to our window, no search-engine credit), and show their full address as a title.
    """
    if is_inert(source):
        return f"<p>{source}</p>"
    return _render_message_fully(source)


def _render_message_fully(source: str) -> str:
    rendered = _message_markdown.render(source)
    cleaned = nh3.clean(
        rendered,
        tags=_MESSAGE_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=SAFE_SCHEMES,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        attribute_filter=_link_title,
        strip_comments=True,
    )
    return _HREF.sub(r'<a href="\1" title="\1"', cleaned).strip()


_HREF = re.compile(r'<a href="([^"]*)"')


# Most messages are a line of words and ordinary punctuation, which the Markdown subset renders
# as one paragraph of the same text. Parsing and cleaning it costs about 0.15 ms per call (a
# sixth of a message's web CPU, twice with the excerpt), so such text skips both. Inert
# means: a letter first (no list number or bullet), single spaces, none of the characters that
# open markup or need escaping (* _ ~ ` [ ] < > & " # | \\ / @ = +), and no dot or colon
# followed by anything but a space (which could make an address a link).
# tests/marketplace/test_message_text.py checks it against the full path on generated text.
_INERT = re.compile(r"[^\W\d_](?:[^\W_]|[ ,.;:?!'()-])*(?<! )")
_ADDRESS_LIKE = re.compile(r"[.:](?! |$)|  ")


def is_inert(source: str) -> bool:
    """Whether ``source`` renders as itself in one paragraph (no markup, nothing to escape)."""
    return _INERT.fullmatch(source) is not None and _ADDRESS_LIKE.search(source) is None


def _link_title(tag: str, attribute: str, value: str) -> str | None:
    # A link's title is always its real address, never a title the writer chose, so a link
    # whose text says "duet.example" but points elsewhere shows where it goes on hover.
    if tag == "a" and attribute == "title":
        return None
    return value


def plain_text(source: str, limit: int | None = None) -> str:
    """The words of a Markdown message without markup (previews, notifications, SMS)."""
    text = source if is_inert(source) else _plain_text_fully(source)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def _plain_text_fully(source: str) -> str:
    text = html.unescape(nh3.clean(_message_markdown.render(source), tags=set()))
    return _SPACE.sub(" ", text).strip()


# PostgreSQL text cannot hold NUL, and a lone surrogate (a JSON "\ud800") cannot be encoded as
# UTF-8: either would fail deep in the database driver, after part of a use case had run.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Remove the NUL character (or broken Unicode) from this text."


def is_storable(text: str) -> bool:
    """Whether ``text`` can be stored and shown: no NUL, no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def first_unstorable(value: object, where: str) -> str | None:
    """The dotted path (``items.0.title``) of the first text in ``value`` (decoded JSON, a form,
    query values) that cannot be stored, keys included; None when all of it can."""
    if isinstance(value, str):
        return None if is_storable(value) else where
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and not is_storable(key):
                return path
            if found := first_unstorable(item, path):
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := first_unstorable(item, f"{where}.{index}" if where else str(index)):
                return found
    return None
