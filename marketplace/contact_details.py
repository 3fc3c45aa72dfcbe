"""Finding contact details in user-written text (e-mail addresses, phone numbers, messengers).

Used to remind people of the platform's rules, never to remove anything: a false positive costs
a gentle reminder, a miss costs nothing worse than today. Patterns are deliberately simple and
tuned to avoid flagging ordinary lesson talk (dates, times, prices, bar numbers).
"""

from __future__ import annotations

import re
from enum import StrEnum


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    MESSENGER = "messenger"


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# "ana dot silva at gmail dot com", "ana(at)gmail.com"
_SPELLED_EMAIL = re.compile(
    r"\b[\w.]+\s*(?:\(at\)|\[at\]|\s+at\s+)\s*[\w-]+\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*"
    r"(?:com|net|org|de|fr|es|it|pt|nl|uk|io|me|co)\b",
    re.IGNORECASE,
)
# A run of digits with the separators people type; judged by its digit count below.
_PHONE = re.compile(r"(?<![\w/])(?:\+|00)?\(?\d[\d\s().-]{6,}\d(?![\w/])")
# Dates and clock times are blanked out before looking for phone numbers.
_DATE_OR_TIME = re.compile(r"\b\d{1,4}[-./]\d{1,2}[-./]\d{1,4}\b|\b\d{1,2}[:h]\d{2}\b")
_MESSENGER = re.compile(
    r"\b(?:wa\.me|whatsapp|what'?s\s?app|t\.me|telegram|signal\.me|viber|wechat|weixin|"
    r"skype|snapchat|line\.me|m\.me|messenger\.com|discord\.gg|discord(?:app)?\.com/invite|"
    r"kik\.me|threema)\b",
    re.IGNORECASE,
)


def find_contact_details(text: str) -> set[ContactKind]:
    """Which kinds of contact details ``text`` seems to share."""
    found: set[ContactKind] = set()
    if _EMAIL.search(text) or _SPELLED_EMAIL.search(text):
        found.add(ContactKind.EMAIL)
    if _MESSENGER.search(text):
        found.add(ContactKind.MESSENGER)
    for match in _PHONE.finditer(_DATE_OR_TIME.sub(" ", text)):
        candidate = match.group(0).strip()
        digits = sum(ch.isdigit() for ch in candidate)
        international = candidate.startswith(("+", "00"))
        if digits >= 9 or (international and digits >= 8):
            found.add(ContactKind.PHONE)
            break
    return found
