"""The Duet kernel: settings, database, broker, accounts, profiles, the web shell and the CLI."""
