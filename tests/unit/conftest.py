"""Fixtures every unit test shares: the in-memory platform (installed for every test, so no
unit test ever reaches a real Docker, Redis or nginx), users by role, and a deployed app."""

from types import SimpleNamespace

import pytest

from paas.core import platform as platform_handle
from paas.core.applications import create_app
from tests.fakes import FakePlatform


@pytest.fixture(autouse=True)
def platform(tmp_path) -> FakePlatform:
    fake = FakePlatform(tmp_path)
    previous = platform_handle.install(fake)
    yield fake
    platform_handle.install(previous)


@pytest.fixture
def users(django_user_model) -> SimpleNamespace:
    """An owner, a collaborator and an outsider (roles in their names)."""
    return SimpleNamespace(
        owner=django_user_model.objects.create_user("owner", password="owner-pass"),
        collaborator=django_user_model.objects.create_user("collaborator",
                                                           password="collab-pass"),
        outsider=django_user_model.objects.create_user("outsider", password="outsider-pass"),
    )


@pytest.fixture
def app(users, platform):
    """App "shop": owned by the owner, the collaborator added, one release deployed."""
    shop = create_app("shop", users.owner)
    shop.collaborators.add(users.collaborator)
    platform.deploy(shop)
    return shop
