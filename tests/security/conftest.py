"""The unit fixtures (in-memory platform, users by role, a deployed app) for security cases."""

from tests.unit.conftest import app, platform, users  # noqa: F401
