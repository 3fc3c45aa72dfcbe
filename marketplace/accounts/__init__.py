"""Users, roles, passwords, page sessions and API tokens."""
