"""The dashboard's services: a card of the app's linked services, and a services page with
status, linked apps and downloadable backups; others' services and backups stay hidden."""

import hashlib

import pytest

from paas.core import service_backups, services
from tests.unit.webui.conftest import client_for


@pytest.fixture(autouse=True)
def home(settings, tmp_path):
    settings.PAAS_HOME = tmp_path / "home"


@pytest.fixture
def linked(users, app, platform):
    made = services.create_service("postgres", "db", users.owner)
    services.link_service(made, app, users.owner)
    platform.services.data["db"] = b"rows"
    return made


def test_the_app_page_shows_its_linked_services(users, app, linked):
    page = client_for(users.owner).get(f"/apps/{app.name}/")

    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="services"' in body and 'data-service="db"' in body
    assert "DATABASE_URL" in body and "service-running" in body


def test_the_services_page_lists_status_links_and_downloadable_backups(users, app, linked):
    backup = service_backups.create_backup(linked)
    client = client_for(users.owner)

    page = client.get("/services/").content.decode()
    download = client.get(f"/services/db/backups/{backup.id}")

    assert 'data-service="db"' in page and f'data-backup="{backup.id}"' in page
    assert f"/apps/{app.name}/" in page and "service-running" in page
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == backup.sha256


def test_outsiders_see_neither_the_service_nor_its_backups(users, app, linked):
    backup = service_backups.create_backup(linked)
    client = client_for(users.outsider)

    assert 'data-service="db"' not in client.get("/services/").content.decode()
    assert client.get(f"/services/db/backups/{backup.id}").status_code == 404
