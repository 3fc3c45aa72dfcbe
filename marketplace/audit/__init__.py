"""The audit trail: an append-only record of admin actions, money decisions and role changes.

``record()`` adds an entry in the caller's transaction, so an entry exists exactly when the
action it describes was committed. The table refuses UPDATE and DELETE (a trigger, see the
migration ``0014``)."""
