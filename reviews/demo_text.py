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
_MIXED = [
    "Decent lesson, but not quite what I had asked for.",
    "Nice person; I would have liked a bit more structure.",
    "We spent more time talking than playing.",
    "Some useful tips, but it felt a little rushed.",
]
_POOR = [
    "The lesson started late and felt rushed.",
    "It did not really address what I wanted to work on.",
    "The connection kept dropping and we lost a good part of the lesson.",
    "Not a good fit for me, unfortunately.",
]
_DETAILS_UP = [
    "We worked on {topic} and it finally clicked.",
    "The way {tutor} explained {topic} made so much sense.",
    "I got a practice plan for {topic} that fits my week.",
    "The sound on the call was great — {tutor} could hear every detail.",
    "Lots of playing together, which helped my timing a lot.",
    "Patient with my questions about {topic}.",
]
_DETAILS_MID = [
    "The part on {topic} was useful.",
    "A bit fast for me at times, but the notes afterwards helped.",
    "The first ten minutes went to sorting out audio; after that it was fine.",
]
_CLOSERS_UP = [
    "Already booked the next one.",
    "Highly recommended.",
    "Can't wait for next week!",
    "Thank you!",
    "My kids' teacher now too.",
]
_CLOSERS_DOWN = [
    "I might try again.",
    "Maybe better for more advanced players.",
    "",
]
_REPLIES_UP = [
    "Thank you, {student}! It was a pleasure — see you next time.",
    "Thanks so much, {student}. Keep going with {topic}, you are nearly there!",
    "So glad it helped, {student}. Bring the piece you mentioned next week.",
    "Thank you for the kind words!",
]
_REPLIES_DOWN = [
    "Thank you for the honest feedback, {student}. I am sorry about the late start — I have "
    "changed my schedule so it does not happen again.",
    "Sorry this did not meet your expectations. I now send a short plan before each lesson so "
    "we agree on goals first.",
    "Thanks, {student}. The connection trouble was on my side; I have a wired line now.",
]


def family(instrument: str) -> str:
    for key, name in _FAMILY.items():
        if key in instrument:
            return name
    return "other"


def review_text(rng: random.Random, stars: int, tutor: str, instrument: str) -> str:
    topic = rng.choice(TOPICS[family(instrument)])
    if stars >= 5:
        parts = [rng.choice(_GREAT), rng.choice(_DETAILS_UP), rng.choice(_CLOSERS_UP)]
    elif stars == 4:
        parts = [rng.choice(_GOOD), rng.choice(_DETAILS_UP + _DETAILS_MID)]
    elif stars == 3:
        parts = [rng.choice(_MIXED), rng.choice(_DETAILS_MID), rng.choice(_CLOSERS_DOWN)]
    else:
        parts = [rng.choice(_POOR), rng.choice(_CLOSERS_DOWN)]
    # Some students write one line, some write three.
    keep = parts[: rng.choice((1, 2, 2, 3, 3))]
    text = " ".join(p for p in keep if p)
    return text.format(tutor=tutor, topic=topic)


def reply_text(rng: random.Random, stars: int, student: str, instrument: str) -> str:
    topic = rng.choice(TOPICS[family(instrument)])
    bank = _REPLIES_UP if stars >= 4 else _REPLIES_DOWN
    return rng.choice(bank).format(student=student, topic=topic)


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
