"""Helpers for the dashboard tests (the fixtures are tests/unit/conftest.py's)."""

from django.test import Client


def client_for(user) -> Client:
    """A test client logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client
