"""Reviews and ratings of completed lessons (see docs/architecture.md)."""
