"""Browser-tier fixtures: the e2e tier's ``stack`` (intake, triage and routing as processes)."""

from tests.e2e.conftest import stack

__all__ = ["stack"]
