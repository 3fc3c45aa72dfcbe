"""Words for demo reviews: what students write after a lesson, and what tutors answer.

Sentences are picked by rating and filled with the tutor's first name and something specific to
the instrument, so two reviews of one tutor rarely read alike.
"""

from __future__ import annotations

import random

# What a lesson on each kind of instrument is about ({topic} in the sentences below).
TOPICS = {
    "piano": ["voicings", "pedalling", "hand independence", "sight-reading", "scales"],
    "keys": ["voicings", "comping patterns", "left-hand bass lines", "chord inversions"],
    "guitar": ["barre chords", "fingerpicking", "alternate picking", "chord changes", "strumming"],
    "bass": ["walking lines", "locking in with the drums", "slap technique", "muting"],
    "voice": ["breath support", "my upper register", "pitch", "vowel shapes", "phrasing"],
    "drums": ["ghost notes", "hand–foot independence", "fills", "playing to a click"],
    "strings": ["bow distribution", "intonation", "vibrato", "shifting", "tone"],
    "winds": ["breath control", "long tones", "articulation", "embouchure", "tone"],
    "theory": ["ear training", "harmony", "reading rhythms", "modes", "chord functions"],
    "other": ["rhythm", "reading", "improvising", "practice routines", "technique"],
}
_FAMILY = {
    "piano": "piano",
    "keyboard": "keys",
    "organ": "keys",
    "synthesizer": "keys",
    "accordion": "keys",
    "guitar": "guitar",
    "ukulele": "guitar",
    "mandolin": "guitar",
    "banjo": "guitar",
    "bass": "bass",
    "voice": "voice",
    "singing": "voice",
    "drum": "drums",
    "percussion": "drums",
    "cajon": "drums",
    "violin": "strings",
    "viola": "strings",
    "cello": "strings",
    "double-bass": "strings",
    "harp": "strings",
    "flute": "winds",
    "clarinet": "winds",
    "saxophone": "winds",
    "trumpet": "winds",
    "trombone": "winds",
    "oboe": "winds",
    "horn": "winds",
    "theory": "theory",
    "composition": "theory",
    "production": "theory",
}

_GREAT = [
    "{tutor} is a wonderful teacher.",
    "Best lesson I have had in years.",
    "I came in nervous and left actually playing.",
    "Exactly what I was looking for.",
    "Clear, warm and very well prepared.",
    "{tutor} listens first and then fixes the one thing that matters.",
]
_GOOD = [
    "Good lesson overall.",
    "Very knowledgeable and friendly.",
    "Helpful and encouraging.",
    "A solid lesson with lots to take away.",
]
_DETAILS_UP = [
    "We worked on {topic} and it finally clicked.",
    "The way {tutor} explained {topic} made so much sense.",
    "I got a practice plan for {topic} that fits my week.",
    "Lots of playing together, which helped my timing a lot.",
    "Patient with all my questions about {topic}.",
]
_CLOSERS_UP = [
    "Already booked the next one.",
    "Highly recommended.",
    "Can't wait for next week!",
    "Thank you!",
]
# (what went wrong, how the tutor answers it): a reply speaks to the complaint it answers.
_COMPLAINTS = [
    (
        "The lesson started late and felt rushed.",
        "Thank you for the honest feedback, {student}. I am sorry about the late start; I now "
        "leave a break between lessons so it does not happen again.",
    ),
    (
        "The connection kept dropping and we lost part of the lesson.",
        "Thanks, {student}. The connection trouble was on my side and I have a wired line now. "
        "Let me know if you would like to make up the lost time.",
    ),
    (
        "It did not really address what I wanted to work on.",
        "Sorry this was not what you hoped for, {student}. I now send a short plan before each "
        "lesson so we agree on goals first.",
    ),
    (
        "Nice person, but I would have liked more structure.",
        "Fair point, {student}, thank you. I have started sending a plan for each lesson.",
    ),
    (
        "We spent more time talking than playing.",
        "Thanks, {student}. Next time we play from the first minute, promise!",
    ),
    (
        "Some useful tips, but it went a bit fast for me.",
        "Thank you, {student}. I will slow down and send notes after the lesson.",
    ),
]
_SOFTENERS = [
    "The part on {topic} was useful though.",
    "{tutor} clearly knows {topic} well.",
    "",
]
_REPLIES_UP = [
    "Thank you, {student}! It was a pleasure — see you next time.",
    "Thanks so much, {student}. Keep going with {topic}, you are nearly there!",
    "So glad it helped, {student}. Bring the piece you mentioned next time.",
    "Thank you for the kind words!",
]
_REPLY_PLAIN = (
    "Thank you for the feedback, {student}. I am sorry the lesson was not what you hoped; "
    "I would be glad to hear how I can make the next one better."
)


def family(instrument: str) -> str:
    for key, name in _FAMILY.items():
        if key in instrument:
            return name
    return "other"


def lesson_words(
    rng: random.Random, stars: int, tutor: str, student: str, instrument: str, *, text: bool
) -> tuple[str, str]:
    """(what the student writes, or "" when ``text`` is false; the tutor's fitting reply)."""
    topic = rng.choice(TOPICS[family(instrument)])
    fill = {"tutor": tutor, "student": student, "topic": topic}
    if stars >= 4:
        opener = rng.choice(_GREAT if stars == 5 else _GOOD)
        parts = [opener, rng.choice(_DETAILS_UP), rng.choice(_CLOSERS_UP)]
        reply = rng.choice(_REPLIES_UP)
    else:
        complaint, reply = rng.choice(_COMPLAINTS)
        parts = [complaint, rng.choice(_SOFTENERS) if stars == 3 else ""]
        if not text:
            reply = _REPLY_PLAIN
    # Some students write one line, some write three.
    written = " ".join(p for p in parts[: rng.choice((1, 2, 2, 3, 3))] if p)
    return (written.format(**fill) if text else ""), reply.format(**fill)


# Students who took the demo tutors' past lessons (the five demo students are kept for the
# person trying Duet; these only exist to have written reviews).
PAST_STUDENTS = [
    ("Sofia Lindqvist", "Europe/Stockholm"),
    ("Daniel Okafor", "Europe/London"),
    ("Mei Tanaka", "Asia/Tokyo"),
    ("Lucas Ferreira", "Europe/Lisbon"),
    ("Amelia Clarke", "Europe/London"),
    ("Mateo García", "Europe/Madrid"),
    ("Hannah Schulz", "Europe/Berlin"),
    ("Noah Williams", "America/New_York"),
    ("Chloé Martin", "Europe/Paris"),
    ("Arjun Mehta", "Asia/Kolkata"),
    ("Isabella Rossi", "Europe/Rome"),
    ("Ethan Brown", "America/Chicago"),
    ("Zoe Papadopoulos", "Europe/Athens"),
    ("Liam O'Connor", "Europe/Dublin"),
    ("Emma de Vries", "Europe/Amsterdam"),
    ("Oliver Nowak", "Europe/Warsaw"),
    ("Ava Johnson", "America/Los_Angeles"),
    ("Felipe Souza", "America/Sao_Paulo"),
    ("Grace Kim", "America/Toronto"),
    ("Jakub Dvořák", "Europe/Prague"),
    ("Ines Moreau", "Europe/Brussels"),
    ("Samuel Cohen", "America/New_York"),
    ("Leonie Huber", "Europe/Vienna"),
    ("Ravi Patel", "Europe/London"),
    ("Clara Jensen", "Europe/Copenhagen"),
    ("Tomás Alves", "Europe/Lisbon"),
    ("Nora Berg", "Europe/Oslo"),
    ("Ben Fischer", "Europe/Zurich"),
    ("Elena Popescu", "Europe/Bucharest"),
    ("Jack Thompson", "Australia/Melbourne"),
    ("Aiko Suzuki", "Asia/Tokyo"),
    ("Marco Bianchi", "Europe/Rome"),
    ("Julia Kowalska", "Europe/Warsaw"),
    ("Kwame Mensah", "Europe/London"),
    ("Laura Sánchez", "Europe/Madrid"),
    ("Max Becker", "Europe/Berlin"),
]
