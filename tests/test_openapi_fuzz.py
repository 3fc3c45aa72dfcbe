"""Schemathesis over the whole OpenAPI document, as anonymous, student, tutor and admin.

Every operation the app documents is called with generated requests (valid ones and, for a
share of the examples, deliberately invalid ones), against demo data so that generated ids reach
real rows. The run fails on any 5xx, any status code the operation does not document, and any
response body or content type that does not match its documented schema.

Bounded: a fixed number of examples per operation and role (``FUZZ_EXAMPLES`` overrides it),
derandomised so a failure reproduces, no shrinking.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from marketplace import db
from marketplace.app import build_queue, create_app, demo_extras
from marketplace.seed.demo_data import demo_tutors
from marketplace.seed.load import ADMIN_EMAIL, DEMO_PASSWORD, seed_demo
from marketplace.settings import Settings
from marketplace.tasks import build_broker
from tests.helpers import run_async

pytestmark = pytest.mark.slow

# Examples per operation, role and mode (valid data, then invalid data); anonymous calls mostly
# stop at the login check, so they get fewer.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
ANONYMOUS_EXAMPLES = max(1, EXAMPLES - 1)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ["anonymous", "student", "tutor", "admin"]
LOGINS = {
    "student": "student1@demo.duet.example",
    "tutor": demo_tutors(1)[0].email,  # teaches the demo lesson and the demo courses
    "admin": ADMIN_EMAIL,
}
# Operations not generated, each with the reason.
EXCLUDED: dict[tuple[str, str], str] = {}


@dataclass
class Tally:
    role: str
    operations: int = 0
    examples: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)  # failure code and title -> runs

    def record(self, label: str, exc: BaseException) -> None:
        self.failures[label] = str(exc)[:1500]
        found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        for failure in found:
            if isinstance(failure, Failure):
                self.kinds[f"{failure.code} {failure.title}"] += 1
            else:
                self.kinds[type(failure).__name__] += 1

    def summary(self, seconds: float) -> str:
        kinds = ", ".join(f"{n} x {kind}" for kind, n in self.kinds.most_common()) or "none"
        return (
            f"schemathesis as {self.role}: {self.operations} operations, {self.examples} "
            f"examples, {len(self.failures)} failing runs ({kinds}), {seconds:.0f} s"
        )


class Caller:
    """Sends each case with the role's bearer token, logging in again if a case revoked it
    (``POST /auth/logout``, ``DELETE /me/tokens/{id}``)."""

    def __init__(self, client: asgi.ASGIClient, role: str) -> None:
        self.client = client
        self.role = role
        self.headers: dict[str, str] = {}
        self.login()

    def login(self) -> None:
        if self.role == "anonymous":
            return
        response = self.client.post(
            "/api/v1/auth/login", json={"email": LOGINS[self.role], "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.client.cookies.clear()
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    def still_logged_in(self) -> None:
        if self.role == "anonymous":
            return
        if self.client.get("/api/v1/me", headers=self.headers).status_code == 401:
            self.login()


@pytest.fixture
def fuzz_app(settings: Settings, tmp_path: Any) -> Iterator[Any]:
    app = create_app(settings, queue=build_queue(settings, build_broker(None)))
    engine: AsyncEngine = db.create_engine(settings.database.url or "", pool_size=2)

    async def seed() -> None:
        try:
            await seed_demo(
                db.create_session_factory(engine),
                settings.marketplace.currency,
                tutor_count=6,
                extras=demo_extras(settings),
            )
        finally:
            await engine.dispose()

    run_async(seed())
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


def _fuzz(schema: Any, caller: Caller, tally: Tally) -> None:
    settings = hypothesis.settings(
        max_examples=ANONYMOUS_EXAMPLES if caller.role == "anonymous" else EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in EXCLUDED:
            continue
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings
            @given(case=strategy)
            def run(case: Any) -> None:
                tally.examples += 1
                response = case.call(headers=caller.headers)
                case.validate_response(response, checks=CHECKS, headers=caller.headers)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # check failures are a group
                tally.record(f"{caller.role} {key[0]} {key[1]} ({mode.value})", exc)
            caller.still_logged_in()


def test_openapi_holds_for_every_operation_and_role(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", fuzz_app)
    tallies = []
    with asgi.get_client(fuzz_app) as client:
        for role in ROLES:
            started = time.monotonic()
            tally = Tally(role)
            _fuzz(schema, Caller(client, role), tally)
            tallies.append(tally)
            print(tally.summary(time.monotonic() - started))
    failures = {label: text for tally in tallies for label, text in tally.failures.items()}
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
