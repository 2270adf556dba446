from tests.unit.api.fakes import platform, users  # noqa: F401 - fixtures
