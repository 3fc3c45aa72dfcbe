"""Lesson records and the self-paced side: courses, quizzes, certificates.

See docs/architecture.md for what this package owns.
"""
