"""Course discussions: per course, threads with replies, visible to the course's people only."""
