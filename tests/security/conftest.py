from tests.unit.conftest import app, platform, users  # noqa: F401
