"""Tutor and student profiles, their media, and admin approval of tutors."""
