"""The security suite shares the unit fixtures: the in-memory platform and users by role."""

from tests.unit.conftest import app, platform, users  # noqa: F401
