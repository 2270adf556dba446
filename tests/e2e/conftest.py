import pytest

from tests.e2e.stack import Stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack():
    """One real stack (dockerd, Redis, nginx, Celery, gunicorn) for the whole e2e session."""
    running = Stack.create()
    try:
        running.start()
        yield running
    finally:
        running.stop()
