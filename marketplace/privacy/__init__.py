"""Personal data: a user's export of everything Duet holds about them, account erasure, and
retention purges (see "Personal data" in docs/architecture.md)."""
