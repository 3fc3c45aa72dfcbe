"""Login limits that fit real users: failures only, per account and per client address, and
X-Forwarded-For believed only from a configured proxy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
import uvicorn
from litestar.testing import TestClient

from marketplace.app import create_app
from marketplace.ratelimit import wait_phrase
from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from marketplace.web.proxies import TrustedProxies, parse_networks
from tests.helpers import PASSWORD, register

WRONG = "not-the-password"


def _login(client: Any, email: str, password: str = PASSWORD, **headers: str) -> Any:
    return client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
    )


def test_ten_successful_logins_in_a_row_do_not_lock(client: TestClient[Any]) -> None:
    user = register(client)
    for _ in range(15):
        assert _login(client, user["email"]).status_code == 200
    for _ in range(5):  # the page form too
        page = client.get("/login")
        assert page.status_code == 200
        answer = client.post(
            "/login",
            data={"email": user["email"], "password": PASSWORD, "_csrf_token": _csrf(client)},
            follow_redirects=False,
        )
        assert answer.status_code == 303


def _csrf(client: TestClient[Any]) -> str:
    return str(client.cookies.get("duet_csrf"))


def test_failures_lock_that_account_and_not_another(client: TestClient[Any]) -> None:
    victim = register(client, email="victim@example.com")
    other = register(client, email="other@example.com")
    for _ in range(10):  # LOGIN_RATE_LIMIT
        assert _login(client, victim["email"], WRONG).status_code == 401
    locked = _login(client, "  VICTIM@example.com ", PASSWORD)  # normalised: the same account
    assert locked.status_code == 429
    body = locked.json()
    # The windows are fixed (15 minutes), so the wait is whatever is left of this one: the
    # message says the same wait as Retry-After, in words ("12 minutes", "18 seconds").
    wait = int(locked.headers["Retry-After"])
    assert 0 < wait <= 15 * 60
    assert body["code"] == "rate_limited" and f"try again in {wait_phrase(wait)}" in body["message"]
    assert _login(client, other["email"]).status_code == 200

    page = client.get("/login")
    assert page.status_code == 200
    refused = client.post(
        "/login",
        data={"email": victim["email"], "password": PASSWORD, "_csrf_token": _csrf(client)},
    )
    assert refused.status_code == 429 and "Too many failed log-ins" in refused.text
    assert int(refused.headers["Retry-After"]) > 0


def test_a_success_clears_the_accounts_failures(client: TestClient[Any]) -> None:
    user = register(client)
    for _ in range(9):
        assert _login(client, user["email"], WRONG).status_code == 401
    assert _login(client, user["email"]).status_code == 200
    for _ in range(9):
        assert _login(client, user["email"], WRONG).status_code == 401
    assert _login(client, user["email"]).status_code == 200


@pytest.fixture
def address_limited(settings: Settings) -> Settings:
    """Three failures per client address, far fewer than per account, to see the address."""
    return replace(settings, web=replace(settings.web, login_address_attempts_per_window=3))


def test_failures_from_one_address_lock_that_address_for_every_account(
    address_limited: Settings, queue: DramatiqQueue
) -> None:
    with TestClient(create_app(address_limited, queue=queue)) as client:
        users = [register(client, email=f"pupil{n}@school.example") for n in range(4)]
        for user in users[:3]:
            assert _login(client, user["email"], WRONG).status_code == 401
        refused = _login(client, users[3]["email"])
        assert refused.status_code == 429 and "network" in refused.json()["message"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(settings: Settings, queue: DramatiqQueue) -> Iterator[str]:
    """The app under uvicorn as ``duet web`` runs it (uvicorn's own proxy headers off)."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, queue=queue),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def _fail_from(base: str, emails: list[str], forwarded: list[str]) -> list[int]:
    """One failed login per e-mail, each claiming the matching X-Forwarded-For."""
    with httpx.Client(base_url=base) as http:
        return [
            _login(http, email, WRONG, **{"X-Forwarded-For": xff}).status_code
            for email, xff in zip(emails, forwarded, strict=True)
        ]


def test_forwarded_for_from_an_untrusted_client_changes_nothing(
    address_limited: Settings, queue: DramatiqQueue, client: TestClient[Any]
) -> None:
    emails = [register(client, email=f"nat{n}@example.com")["email"] for n in range(4)]
    with _serve(address_limited, queue) as base:  # TRUSTED_PROXIES unset: loopback untrusted
        spoofed = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
        assert _fail_from(base, emails, spoofed) == [401, 401, 401, 429]


def test_forwarded_for_from_a_configured_proxy_is_the_client(
    address_limited: Settings, queue: DramatiqQueue, client: TestClient[Any]
) -> None:
    emails = [register(client, email=f"proxied{n}@example.com")["email"] for n in range(5)]
    proxied = replace(
        address_limited, web=replace(address_limited.web, trusted_proxies=("127.0.0.0/8",))
    )
    with _serve(proxied, queue) as base:
        # Four clients behind the proxy: each has its own count (a client-written prefix is
        # ignored: the proxy appends the address it saw, and that is the one counted).
        forwarded = ["198.51.100.1", "203.0.113.9, 198.51.100.2", "198.51.100.3", "198.51.100.4"]
        assert _fail_from(base, emails[:4], forwarded) == [401, 401, 401, 401]
        # One client behind the proxy reaching the address limit is locked out.
        same = ["198.51.100.7"] * 4
        assert _fail_from(base, [emails[4]] * 4, same) == [401, 401, 401, 429]


def test_the_client_is_the_first_untrusted_hop_from_the_right() -> None:
    proxies = TrustedProxies(parse_networks(["10.0.0.0/8", "2001:db8::1"]))
    assert proxies.client_address("192.0.2.1", ["198.51.100.1"]) == "192.0.2.1"  # not a proxy
    assert proxies.client_address("10.0.0.2", ["198.51.100.1"]) == "198.51.100.1"
    assert proxies.client_address("10.0.0.2", ["1.1.1.1, 198.51.100.1, 10.0.0.3"]) == (
        "198.51.100.1"
    )
    assert proxies.client_address("10.0.0.2", ["1.1.1.1", "198.51.100.1"]) == "198.51.100.1"
    assert proxies.client_address("2001:db8::1", ["2001:db8::9"]) == "2001:db8::9"
    assert proxies.client_address("10.0.0.2", ["nonsense, 198.51.100.1"]) == "198.51.100.1"
    assert proxies.client_address("10.0.0.2", ["198.51.100.1, nonsense"]) == "10.0.0.2"
    assert proxies.client_address("10.0.0.2", []) == "10.0.0.2"
    assert not TrustedProxies(()).trusts("127.0.0.1")  # the default trusts nobody
    with pytest.raises(ValueError, match=r"proxy\.example"):
        parse_networks(["proxy.example"])
