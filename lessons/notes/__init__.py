"""Around a booked lesson: the tutor's notes, homework, shared files and the practice log."""
