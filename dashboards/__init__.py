"""Dashboards: a tutor's own months in charts, and the marketplace's for admins.

The top of the package graph (beside search): it reads figures from payouts' ledger,
scheduling's bookings, lessons' enrolments, the kernel's moderation decisions and search's
daily counts, and writes nothing.
"""
