"""Fixtures for every suite: the real stack that end-to-end cases (tests/e2e/, and the
security suite's cases that need real containers) share for the whole session."""

import pytest

from tests.e2e.stack import Stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath) or "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack():
    """One real stack (dockerd, Redis, nginx, Celery, gunicorn) for the whole session."""
    running = Stack.create()
    try:
        running.start()
        yield running
    finally:
        running.stop()
