"""The web shell: access control, error responses, layout and shared page helpers."""
