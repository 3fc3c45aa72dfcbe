"""The payments tests' demo environment, for real paid lessons on the dashboards."""

from tests.payouts.conftest import demo_env

__all__ = ["demo_env"]
