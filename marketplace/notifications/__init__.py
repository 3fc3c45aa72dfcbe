"""In-app notifications and SMS (Twilio in production, a visible outbox otherwise)."""
