from tests.unit.api.fakes import app, platform, users  # noqa: F401 - fixtures
