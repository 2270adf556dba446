"""Fixtures shared by the dashboard tests: the fake platform, users by role, a deployed app."""

import pytest
from django.test import Client

from paas.core.applications import create_app
from tests.unit.api.fakes import platform, users  # noqa: F401 - fixtures


@pytest.fixture
def app(users, platform):  # noqa: F811 - the fixtures imported above
    """App "shop": owned by the owner, the collaborator added, one release deployed."""
    app = create_app("shop", users.owner)
    app.collaborators.add(users.collaborator)
    platform.deploy(app)
    return app


def client_for(user) -> Client:
    """A test client logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client
