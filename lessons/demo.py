"""Demo courses: two published courses with quizzes (generated audio prompts) by demo tutors.

Idempotent: a course is keyed by its tutor and title, so running the seed again adds nothing.
Audio prompts are synthesised from note names (about a second in all), so seeding stays fast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.certificates.pdf import FONTS
from lessons.courses import publishing, service
from lessons.courses.models import Course, CourseMedia, CourseStatus
from lessons.courses.schemas import CourseIn, ItemIn
from lessons.quizzes import service as quizzes
from lessons.quizzes import tones
from lessons.quizzes.models import Quiz
from lessons.quizzes.schemas import ClipIn, OptionIn, PairIn, QuestionIn, QuizSettingsIn
from marketplace.accounts.models import User
from marketplace.media import MediaStorage, new_key
from marketplace.profiles.models import TutorInstrument

EAR_TRAINING = "Hear it: intervals and chords for beginners"
JAZZ = "Jazz harmony for pianists: shells and the ii–V–I"


# What to try after a wrong answer, by question bank: an interval is two notes, a chord three.
HINTS = {
    "intervals": "Sing the two notes back, then count the semitones between them.",
    "chords": "Sing the chord from the bottom note up: a major third then a minor third "
    "sounds major; a minor third then a major third sounds minor.",
}


def _opts(right: str, *wrong: str, feedback: str = "") -> list[OptionIn]:
    return [OptionIn(right, True, feedback)] + [OptionIn(w) for w in wrong]


def _ear_questions() -> list[QuestionIn]:
    def music(prompt: str, mode: str, notes: str, options: list[OptionIn], bank: str) -> QuestionIn:
        return QuestionIn(
            kind="music",
            prompt=prompt,
            bank=bank,
            options=options,
            clip=ClipIn(mode=mode, notes=notes, tempo=80),
            feedback_incorrect=HINTS[bank],
        )

    return [
        music(
            "Listen: which interval is this?",
            "melodic",
            "C4 E4",
            _opts("Major third", "Minor third", "Perfect fourth", "Perfect fifth"),
            "intervals",
        ),
        music(
            "Listen: which interval is this?",
            "melodic",
            "C4 G4",
            _opts("Perfect fifth", "Major third", "Octave", "Major sixth"),
            "intervals",
        ),
        music(
            "Listen: which interval is this?",
            "melodic",
            "A3 A4",
            _opts("Octave", "Perfect fifth", "Major seventh", "Minor sixth"),
            "intervals",
        ),
        music(
            "Listen: what quality is this chord?",
            "harmonic",
            "C4 E4 G4",
            _opts("Major", "Minor", "Diminished", "Augmented"),
            "chords",
        ),
        music(
            "Listen: what quality is this chord?",
            "harmonic",
            "A3 C4 E4",
            _opts("Minor", "Major", "Diminished", "Augmented"),
            "chords",
        ),
        QuestionIn(
            kind="true_false",
            prompt="A major third is four semitones.",
            answer=True,
            feedback_correct="Yes: C–C♯–D–D♯–E is four half steps.",
            bank="theory",
        ),
        QuestionIn(
            kind="numeric",
            prompt="How many semitones are in a perfect fifth?",
            value=7,
            unit="semitones",
            bank="theory",
        ),
        QuestionIn(
            kind="short",
            prompt="Name the note a major third above C.",
            accepted=["E", "E natural", "mi"],
            bank="theory",
        ),
        QuestionIn(
            kind="ordering",
            prompt="Order these intervals from smallest to largest.",
            items=["Minor second", "Major third", "Perfect fifth", "Octave"],
            bank="theory",
        ),
        QuestionIn(
            kind="matching",
            prompt="Match each interval with its size.",
            pairs=[
                PairIn("Minor third", "3 semitones"),
                PairIn("Major third", "4 semitones"),
                PairIn("Perfect fourth", "5 semitones"),
            ],
            bank="theory",
        ),
        QuestionIn(
            kind="multiple",
            prompt="Which of these chords are major?",
            options=[
                OptionIn("C E G", True),
                OptionIn("F A C", True),
                OptionIn("A C E", False, "A C E is A minor."),
                OptionIn("B D F", False, "B D F is diminished."),
            ],
            bank="theory",
        ),
    ]


def _rhythm_questions() -> list[QuestionIn]:
    return [
        QuestionIn(
            kind="music",
            prompt="After the four clicks, which rhythm do you hear?",
            options=_opts(
                "♩ ♩ ♫ ♩ (quarter, quarter, two eighths, quarter)",
                "♩ ♫ ♩ ♩ (quarter, two eighths, quarter, quarter)",
                "𝅗𝅥 ♩ ♩ (half, quarter, quarter)",
            ),
            clip=ClipIn(mode="rhythm", notes="q q e e q", tempo=90),
        ),
        QuestionIn(kind="numeric", prompt="How many eighth notes fit in one bar of 4/4?", value=8),
        QuestionIn(
            kind="single",
            prompt="What does a dot after a note do?",
            options=_opts(
                "Adds half of its value",
                "Doubles it",
                "Makes it staccato",
                feedback="A dotted quarter lasts a quarter plus an eighth.",
            ),
        ),
    ]


def _jazz_questions() -> list[QuestionIn]:
    return [
        QuestionIn(
            kind="single",
            prompt="In C major, which chord is the ii?",
            options=_opts("Dm7", "Em7", "G7", "Fmaj7"),
        ),
        QuestionIn(
            kind="ordering", prompt="Put a ii–V–I in C in order.", items=["Dm7", "G7", "Cmaj7"]
        ),
        QuestionIn(
            kind="multiple",
            prompt="Which notes make a shell voicing of G7?",
            options=[
                OptionIn("G", True),
                OptionIn("B", True),
                OptionIn("F", True),
                OptionIn("D", False, "The fifth is left out of a shell."),
            ],
        ),
        QuestionIn(
            kind="music",
            prompt="Listen: which chord quality is this?",
            options=_opts("Dominant seventh", "Major seventh", "Minor seventh"),
            clip=ClipIn(mode="harmonic", notes="G3 B3 D4 F4", tempo=80),
        ),
        QuestionIn(
            kind="matching",
            prompt="Match each chord with its guide tones.",
            pairs=[PairIn("Dm7", "F and C"), PairIn("G7", "B and F"), PairIn("Cmaj7", "E and B")],
        ),
        QuestionIn(
            kind="short",
            prompt="What do jazz musicians call the 3rd and 7th of a chord?",
            accepted=["guide tones", "guide-tones", "guide notes"],
        ),
    ]


def _sheet_pdf(title: str, lines: list[str]) -> bytes:
    pdf = FPDF()
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", "", 20)
    pdf.cell(0, 12, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 12)
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    # Five empty staves to write on.
    y = pdf.get_y() + 10
    for staff in range(5):
        for n in range(5):
            pdf.line(15, y + staff * 28 + n * 2.5, 195, y + staff * 28 + n * 2.5)
    return bytes(pdf.output())


async def _tutor_for(session: AsyncSession, tutor_ids: list[int], instrument: str) -> int | None:
    found = await session.scalar(
        select(TutorInstrument.tutor_id)
        .where(TutorInstrument.tutor_id.in_(tutor_ids), TutorInstrument.instrument == instrument)
        .order_by(TutorInstrument.tutor_id)
        .limit(1)
    )
    return found or (min(tutor_ids) if tutor_ids else None)


async def _course(
    session: AsyncSession,
    storage: MediaStorage,
    tutor_id: int,
    data: CourseIn,
    modules: list[tuple[str, list[tuple[str, str, Any]]]],
    currency: str,
) -> None:
    exists = await session.scalar(
        select(Course.id).where(Course.tutor_id == tutor_id, Course.title == data.title)
    )
    if exists:
        return
    tutor = await session.get(User, tutor_id)
    assert tutor is not None
    course = await service.create_course(session, tutor, data, currency)
    for module_title, items in modules:
        module = await service.add_module(session, course, module_title)
        for kind, title, content in items:
            item = await service.add_item(
                session,
                course,
                ItemIn(
                    kind=kind,
                    title=title,
                    module_id=module.id,
                    required=kind != "file",
                    body=content if kind == "text" else "",
                ),
            )
            if kind == "quiz":
                quiz = await session.scalar(select(Quiz).where(Quiz.item_id == item.id))
                assert quiz is not None
                settings, questions = content
                await quizzes.update_settings(session, quiz, settings)
                for question in questions:
                    await quizzes.save_question(session, storage, quiz, question)
            elif kind in ("file", "audio"):
                data_bytes, suffix, name, seconds = content
                key = new_key("course-media/original", suffix)
                storage.save(key, data_bytes)
                session.add(
                    CourseMedia(
                        item_id=item.id,
                        kind=kind,
                        status="ready",
                        original_key=key,
                        original_filename=name,
                        content_type="application/pdf" if kind == "file" else "audio/mp4",
                        size_bytes=len(data_bytes),
                        duration_seconds=seconds,
                        playable_key=key if kind == "audio" else None,
                        progress_percent=100,
                    )
                )
    await session.flush()
    await publishing.publish(session, course)
    course.status = CourseStatus.PUBLISHED.value
    course.published_at = datetime.now(UTC)


def course_seeder(
    storage: MediaStorage, currency: str = "EUR"
) -> Callable[[AsyncSession, list[int]], Awaitable[None]]:
    async def seed_courses(session: AsyncSession, tutor_ids: list[int]) -> None:
        if not tutor_ids:
            return
        theory = await _tutor_for(session, tutor_ids, "music-theory")
        piano = await _tutor_for(session, tutor_ids, "piano")
        assert theory is not None and piano is not None
        existing = await session.scalar(
            select(func.count())
            .select_from(Course)
            .where(Course.tutor_id.in_([theory, piano]), Course.title.in_([EAR_TRAINING, JAZZ]))
        )
        if existing == 2:
            return  # both demo courses exist: nothing to synthesise
        arpeggio = tones.clip_m4a("melodic", "D4 F4 A4 C5 G3 B3 D4 F4 C4 E4 G4 B4", 120)
        await _course(
            session,
            storage,
            theory,
            CourseIn(
                title=EAR_TRAINING,
                instrument="music-theory",
                level="beginner",
                language="en",
                summary="Train your ear in short steps: hear intervals, tell major from "
                "minor, and clap rhythms back.",
                description="You will learn to **recognise the intervals** every melody is made "
                "of and to hear whether a chord is **major or minor**.\n\nEach module ends with "
                "a short listening quiz; pass them all to earn your certificate.",
            ),
            [
                (
                    "Intervals",
                    [
                        (
                            "text",
                            "What an interval is",
                            "An **interval** is the distance between two notes, counted in "
                            "semitones (half steps).\n\n- minor third: 3 semitones\n"
                            "- major third: 4\n- perfect fifth: 7\n- octave: 12\n\n"
                            "Tip: the first two notes of *Here Comes the Bride* are a "
                            "perfect fourth.",
                        ),
                        (
                            "quiz",
                            "Interval and chord ear test",
                            (
                                QuizSettingsIn(
                                    pass_percent=60,
                                    max_attempts=5,
                                    draw_rules=[],
                                    review_policy="after_submission",
                                ),
                                _ear_questions(),
                            ),
                        ),
                    ],
                ),
                (
                    "Rhythm",
                    [
                        (
                            "text",
                            "Counting beats",
                            "Count **1 2 3 4** steadily and clap on each "
                            "beat. Eighth notes split a beat in two: say *1-and 2-and*.",
                        ),
                        (
                            "quiz",
                            "Rhythm check",
                            (
                                QuizSettingsIn(pass_percent=60, time_limit_minutes=10),
                                _rhythm_questions(),
                            ),
                        ),
                    ],
                ),
            ],
            currency,
        )
        await _course(
            session,
            storage,
            piano,
            CourseIn(
                title=JAZZ,
                instrument="piano",
                level="intermediate",
                language="en",
                price_minor=2900,
                summary="Voice the most common progression in jazz with shells and guide tones, "
                "in every key.",
                description="From **shell voicings** (root, 3rd, 7th) to smooth **guide-tone "
                "lines** through the ii–V–I. For pianists who read chord symbols.",
            ),
            [
                (
                    "Shells",
                    [
                        (
                            "text",
                            "Root, third and seventh",
                            "A shell voicing keeps the notes that "
                            "define the chord: the root in the left hand, the **3rd and 7th** "
                            "on top.",
                        ),
                        (
                            "audio",
                            "Listen: ii–V–I arpeggios",
                            (arpeggio, ".m4a", "ii-V-I.m4a", 7.0),
                        ),
                        (
                            "file",
                            "Practice sheet: ii–V–I in all keys",
                            (
                                _sheet_pdf(
                                    "ii–V–I in all keys",
                                    [
                                        "C: Dm7 – G7 – Cmaj7",
                                        "F: Gm7 – C7 – Fmaj7",
                                        "B♭: Cm7 – F7 – B♭maj7",
                                        "E♭: Fm7 – B♭7 – E♭maj7",
                                    ],
                                ),
                                ".pdf",
                                "ii-V-I-all-keys.pdf",
                                None,
                            ),
                        ),
                        (
                            "quiz",
                            "Shells and guide tones",
                            (
                                QuizSettingsIn(
                                    pass_percent=70,
                                    max_attempts=3,
                                    review_policy="after_last_attempt",
                                ),
                                _jazz_questions(),
                            ),
                        ),
                    ],
                ),
            ],
            currency,
        )

    return seed_courses
