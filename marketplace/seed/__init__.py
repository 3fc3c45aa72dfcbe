"""Deterministic demo data for local development, demos and screenshots."""
