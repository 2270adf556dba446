"""The security suite uses the unit tests' fixtures (an in-memory platform for every test,
users by role, a deployed app) and, for its end-to-end cases, the e2e stack."""

from tests.unit.conftest import app, platform, users  # noqa: F401 - fixtures
