"""Many clicks at the same moment: one payment, one intent."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.payouts.flow import Env, bookable_tutor, hold
from tests.scheduling.helpers import sql, student


def test_concurrent_checkouts_open_one_payment(demo_env: Env, live_api: str) -> None:
    tutor_id, _, _ = bookable_tutor(demo_env)
    _, me = student(demo_env.client)
    booking = hold(demo_env, me, tutor_id)

    async def click(client: httpx.AsyncClient) -> Any:
        response = await client.post(f"/api/v1/bookings/{booking['id']}/checkout", headers=me)
        return response.status_code, response.json().get("id")

    async def race() -> list[Any]:
        async with httpx.AsyncClient(base_url=live_api, timeout=30) as client:
            return list(await asyncio.gather(*(click(client) for _ in range(12))))

    answers = asyncio.run(race())
    assert {status for status, _ in answers} == {200}, answers
    assert len({payment for _, payment in answers}) == 1
    assert sql(demo_env.client, "SELECT count(*) FROM payments")[0][0] == 1
    intents = sql(
        demo_env.client, "SELECT count(*) FROM demo_gateway_objects WHERE kind = 'payment_intent'"
    )
    assert intents[0][0] == 1
