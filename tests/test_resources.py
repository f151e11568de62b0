"""The external resources of the suite (PostgreSQL, chromium, ../shared data): a missing one skips
loudly on a workstation, and fails the run in CI, where every one of them is installed."""

import pytest


def test_a_missing_resource_skips_loudly_outside_ci(missing, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="^PostgreSQL tests SKIPPED: no server"):
        missing("PostgreSQL tests SKIPPED: no server")


def test_a_missing_resource_fails_the_run_under_ci(missing, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="^PostgreSQL tests SKIPPED: no server .*CI=true"):
        missing("PostgreSQL tests SKIPPED: no server")
