"""Review tests reuse the scheduling tests' live server for real concurrent requests."""

from tests.scheduling.conftest import live_api  # noqa: F401 - a fixture, used by name
