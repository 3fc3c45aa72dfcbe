"""A student looks for a tutor free on weekday evenings, in their own zone, on the search page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.scheduling.helpers import ALL_DAYS, approved_tutor

pytestmark = pytest.mark.browser


def test_the_availability_filter_counts_and_narrows_in_the_viewers_zone(
    live_server: str, browser_page: Any, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    evenings, _ = approved_tutor(client, windows=[(d, "18:00", "21:00") for d in ALL_DAYS])
    mornings, _ = approved_tutor(client, windows=[(d, "08:00", "11:00") for d in ALL_DAYS])
    run_jobs(queue)
    page = browser_page
    page.goto(live_server + "/search?tz=Europe/Berlin")
    page.locator("[data-filters] > summary").click()  # filters fold away at phone width
    when = page.locator("[data-facet=availability]")
    assert "Europe/Berlin" in when.inner_text()

    def count(bucket: str) -> str:
        option = when.locator("label", has=page.locator(f"input[value={bucket}]"))
        return str(option.locator(".count").inner_text())

    assert (count("weekday_evening"), count("weekday_morning")) == ("1", "1")
    assert count("weekday_afternoon") == "0"
    page.get_by_label("Weekday evenings (18–22)").check()
    page.wait_for_url(re.compile(r".*availability=weekday_evening.*"))
    page.wait_for_function("() => document.querySelectorAll('.hit').length === 1")
    assert page.locator("[data-summary]").inner_text() == "1 tutor"
    # Disjunctive: the other buckets keep their counts while one is ticked.
    assert count("weekday_morning") == "1"
    hit = page.locator(".hit").first
    assert "Next free:" in hit.inner_text()
    next_free = hit.locator("time").inner_text()
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3}, (18|19|20):\d\d", next_free), next_free
    hit.locator("a").click()
    page.wait_for_url(f"**/tutors/{evenings}")
    assert mornings != evenings
