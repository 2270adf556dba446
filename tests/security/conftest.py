"""The unit fixtures (in-memory platform, users by role, a deployed app) for the security
cases that need no real containers."""

from tests.unit.conftest import app, platform, users  # noqa: F401
