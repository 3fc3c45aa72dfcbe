"""Tutor search: documents, backends and the search API (see docs/architecture.md)."""
