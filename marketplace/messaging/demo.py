"""Demo conversation: the first demo student asked the first demo tutor before booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import vocab
from marketplace.accounts.models import User
from marketplace.messaging.models import Conversation, Message, Participant
from marketplace.profiles.models import TutorInstrument, TutorProfile
from marketplace.seed.demo_data import EMAIL_DOMAIN
from marketplace.text import plain_text, render_message

STUDENT_EMAIL = f"student1@{EMAIL_DOMAIN}"


def _script(student: str, tutor: str, instrument: str) -> list[tuple[str, str]]:
    """(who, text): believable first questions before a first lesson."""
    return [
        (
            "student",
            f"Hi {tutor}! I'm an adult beginner and I don't read music at all. Do you teach "
            f"{instrument} to people like me, or should I learn to read first?",
        ),
        (
            "tutor",
            f"Hi {student}, lovely to hear from you! Absolutely: most of my adult students "
            "started without reading a note. We begin by ear and with simple shapes, and bring "
            "in reading a little each week, so it **never gets in the way of playing**.",
        ),
        (
            "tutor",
            "What would you like to play first? If you have a song in mind, send it over and "
            "I'll plan our first lesson around it.",
        ),
        (
            "student",
            "That sounds perfect. One day I'd love to play *Clair de Lune*, but something "
            "simpler first is fine 😅\n\nAre weekday evenings good for you? I'm free after "
            "18:00 most days.",
        ),
    ]


async def seed_conversation(session: AsyncSession, tutor_ids: list[int]) -> None:
    """Idempotent: does nothing when the pair already has a conversation."""
    if not tutor_ids:
        return
    student = await session.scalar(select(User).where(User.email == STUDENT_EMAIL))
    tutor_id = min(tutor_ids)  # the first demo tutor, whose login the seed prints
    profile = await session.get(TutorProfile, tutor_id)
    if student is None or profile is None:
        return
    exists = await session.scalar(
        select(Conversation.id).where(
            Conversation.student_id == student.id, Conversation.tutor_id == tutor_id
        )
    )
    if exists is not None:
        return
    slug = await session.scalar(
        select(TutorInstrument.instrument)
        .where(TutorInstrument.tutor_id == tutor_id)
        .order_by(TutorInstrument.position)
    )
    term = vocab.instrument(slug or "")
    instrument = term.name.lower() if term else "music"
    script = _script(
        student.full_name.split(" ")[0], profile.display_name.split(" ")[0], instrument
    )
    conversation = Conversation(student_id=student.id, tutor_id=tutor_id, started_by=student.id)
    session.add(conversation)
    await session.flush()
    start = datetime.now(UTC) - timedelta(hours=5)
    sender = {"student": student.id, "tutor": tutor_id}
    for seq, (who, text) in enumerate(script, start=1):
        session.add(
            Message(
                conversation_id=conversation.id,
                seq=seq,
                sender_id=sender[who],
                body=text,
                body_html=render_message(text),
                created_at=start + timedelta(minutes=37 * seq),
            )
        )
    last = len(script)
    conversation.last_seq = last
    conversation.last_message_at = start + timedelta(minutes=37 * last)
    conversation.last_sender_id = student.id
    conversation.last_excerpt = plain_text(script[-1][1], 140)
    # The student has read everything; the tutor has the student's last question to answer.
    session.add_all(
        [
            Participant(conversation_id=conversation.id, user_id=student.id, last_read_seq=last),
            Participant(conversation_id=conversation.id, user_id=tutor_id, last_read_seq=last - 1),
        ]
    )
    await session.flush()
