"""Self-paced courses: authoring, media, enrolment and progress."""
