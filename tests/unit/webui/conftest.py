"""Fixtures shared by the dashboard tests: the fake platform, users by role, a deployed app."""

from django.test import Client

from tests.unit.api.fakes import app, platform, users  # noqa: F401 - fixtures


def client_for(user) -> Client:
    """A test client logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client
