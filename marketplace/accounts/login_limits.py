"""Login attempts that fit real users: only failures count, per account and per client address.

A successful login never counts and clears that account's failures, so a tutor who logs in from
two browsers ten times an hour is never locked out. Failures are counted twice, separately:
per account (the normalised e-mail, whichever address they come from: guessing one password)
and per client address (whatever account: one address trying many accounts). The address limit
is much higher, so the pupils of one school behind one NAT address are not locked out by one
of them forgetting a password.
"""

from __future__ import annotations

from marketplace.accounts.service import hash_secret, normalise_email
from marketplace.errors import RateLimited
from marketplace.ratelimit import Counter, seconds_left, wait_phrase

LOGIN_WINDOW = 15 * 60


class LoginLimits:
    def __init__(
        self,
        counter: Counter,
        *,
        per_account: int,
        per_address: int,
        window_seconds: int = LOGIN_WINDOW,
    ) -> None:
        self._counter = counter
        self._per_account = per_account
        self._per_address = per_address
        self._window = window_seconds

    async def check(self, email: str, address: str) -> None:
        """Refuse (429) before any password is checked when either limit is used up."""
        for key, limit, whose in (
            (self._account_key(email), self._per_account, "this account"),
            (self._address_key(address), self._per_address, "your network"),
        ):
            if await self._counter.count(key, self._window) >= limit:
                wait = seconds_left(self._window)
                raise RateLimited(
                    f"Too many failed log-ins for {whose}. Please try again in "
                    f"{wait_phrase(wait)}.",
                    retry_after=wait,
                )

    async def failed(self, email: str, address: str) -> None:
        await self._counter.hit(self._account_key(email), self._window)
        await self._counter.hit(self._address_key(address), self._window)

    async def succeeded(self, email: str) -> None:
        await self._counter.reset(self._account_key(email), self._window)

    @staticmethod
    def _account_key(email: str) -> str:
        # Hashed: bounded keys, and no e-mail addresses in Redis.
        return f"login-fail:account:{hash_secret(normalise_email(email))}"

    @staticmethod
    def _address_key(address: str) -> str:
        return f"login-fail:address:{address}"
