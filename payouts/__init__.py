"""All money: checkout, the payment gateway, webhooks, the ledger and payouts.

See docs/architecture.md for what this package owns.
"""
