"""Every control of every page form goes through the form macros (``templates/_form.html``),
so a new form cannot forget to show its problems by their fields or to keep what was typed.

A control (input, select, textarea; not hidden inputs or buttons) inside a
``<form method="post">`` must carry ``invalid(...)`` (``aria-invalid`` and the link to its
problem), and its template must show problems with ``err(...)``. Text a person types
(text-like inputs and textareas) must come back through ``val(...)``, except passwords and
files, which browsers never refill. Forms inside ``<template>`` are clones for scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("marketplace", "lessons", "scheduling", "payouts", "reviews", "search", "video")
_JINJA = r"\{\{.*?\}\}|\{%.*?%\}"
FORM = re.compile(r"<form\b(?:[^>{]|" + _JINJA + r")*>(.*?)</form>", re.S)
POST = re.compile(r'method="post"', re.I)
CONTROL = re.compile(r"<(input|select|textarea)\b((?:[^>{]|" + _JINJA + r")*)>", re.S)
TEMPLATE_ELEMENT = re.compile(r"<template\b.*?</template>", re.S)
UNTYPED = {"hidden", "submit", "button", "password", "file", "checkbox", "radio"}


def _templates() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("templates/**/*.html"))


def problems_of(source: str) -> list[str]:
    """What a template's post forms lack, one line per control."""
    found = []
    source = TEMPLATE_ELEMENT.sub("", source)
    for form in FORM.finditer(source):
        if not POST.search(form.group(0)[: form.group(0).index(">") + 1]):
            continue
        body = form.group(1)
        for control in CONTROL.finditer(body):
            tag, attrs = control.group(1), control.group(2)
            kind = re.search(r'type="([a-z]+)"', attrs)
            kind_name = kind.group(1) if kind else ("text" if tag == "input" else tag)
            if kind_name in ("hidden", "submit", "button") or "name=" not in attrs:
                continue
            shown = re.sub(r"\s+", " ", control.group(0))[:100]
            if "invalid(" not in attrs:
                found.append(f"no invalid(...): {shown}")
            if kind_name not in UNTYPED and tag != "select":
                typed_back = (
                    "val(" in attrs
                    if tag == "input"
                    else bool(re.match(r"\s*\{\{\s*val\(", body[control.end() :]))
                )
                if not typed_back:
                    found.append(f"what was typed is not kept (val(...)): {shown}")
    if found and "err(" not in source:
        found.append("the template never shows a problem (err(...))")
    return found


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_post_form_uses_the_form_macros(path: Path) -> None:
    assert problems_of(path.read_text()) == []


def test_the_check_catches_a_form_without_the_macros() -> None:
    bare = '<form method="post" action="/x"><input name="title" value="{{ t }}"></form>'
    assert len(problems_of(bare)) == 3
    done = (
        '<form method="post" action="/x"><input name="title" value="{{ val(\'title\') }}"'
        '{{ invalid("title") }}>{{ err("title") }}</form>'
    )
    assert problems_of(done) == []
    text = '<form method="post"><textarea name="b"{{ invalid("b") }}>{{ b }}</textarea></form>'
    assert "what was typed is not kept" in problems_of(text)[0]
    assert problems_of('<form method="get"><input name="q"></form>') == []
