"""Certificates of completion: PDF, public verification and signed Open Badges credentials."""
