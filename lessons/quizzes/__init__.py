"""Quizzes: question definitions, banks, attempts and automatic grading."""
