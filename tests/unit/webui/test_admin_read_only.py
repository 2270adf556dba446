"""Apps, formations and domains are read-only in the admin: the paas.core services change them.

The fixtures are kept to rows made here (no fake platform): the admin never reaches Docker or
the router, which is the point.
"""

from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory

from paas.core.applications import create_app
from paas.core.models import App, Domain, Formation

pytestmark = pytest.mark.django_db


@dataclass
class Records:
    app: App
    formation: Formation
    domain: Domain


@pytest.fixture
def records(django_user_model) -> Records:
    owner = django_user_model.objects.create_user("owner", password="x")
    collaborator = django_user_model.objects.create_user("collaborator", password="x")
    app = create_app("shop", owner)
    app.collaborators.add(collaborator)
    domain = Domain.objects.create(app=app, hostname="shop.example.com")
    return Records(app=app, formation=app.formations.get(), domain=domain)


@pytest.fixture
def operator(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("operator", password="x"))
    return client


def _pages(records: Records) -> list[tuple[str, int]]:
    return [("app", records.app.pk), ("formation", records.formation.pk),
            ("domain", records.domain.pk)]


def test_it_shows_the_lists_and_record_pages_to_an_operator(operator, records):
    for model, pk in _pages(records):
        assert operator.get(f"/admin/core/{model}/").status_code == 200
        page = operator.get(f"/admin/core/{model}/{pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()


def test_it_links_the_app_list_and_page_to_the_dashboard(operator, records):
    listing = operator.get("/admin/core/app/").content.decode()
    page = operator.get(f"/admin/core/app/{records.app.pk}/change/").content.decode()
    assert 'href="/apps/shop/"' in listing
    assert 'href="/apps/shop/"' in page


def test_it_shows_formations_domains_and_collaborators_on_the_app_page_without_inputs(
        operator, records):
    page = operator.get(f"/admin/core/app/{records.app.pk}/change/").content.decode()
    assert "shop.example.com" in page
    assert "collaborator" in page
    assert 'name="formations-0-quantity"' not in page
    assert 'name="domains-0-hostname"' not in page
    assert 'name="collaborators"' not in page
    assert "-DELETE" not in page
    assert 'id="formations-empty"' not in page
    assert 'id="domains-empty"' not in page


def test_it_keeps_the_app_page_inlines_read_only_on_their_own(django_user_model, records):
    # Django already locks inlines on a view-only page; these hold even if the page were not.
    request = RequestFactory().get("/admin/core/app/")
    request.user = django_user_model.objects.create_superuser("operator", password="x")
    inlines = admin.site.get_model_admin(App).get_inline_instances(request, records.app)
    assert {inline.model for inline in inlines} == {Formation, Domain}
    for inline in inlines:
        assert not inline.can_delete
        assert inline.extra == 0
        assert inline.max_num == 0
        assert not inline.has_add_permission(request, records.app)
        assert not inline.has_change_permission(request, records.app)
        assert not inline.has_delete_permission(request, records.app)


def test_it_refuses_a_post_to_the_change_pages_and_keeps_the_rows(operator, records):
    app_page = f"/admin/core/app/{records.app.pk}/change/"
    assert operator.post(app_page, {"name": "renamed", "owner": records.app.owner_id,
                                    "config": "{}"}).status_code == 403
    assert operator.post(f"/admin/core/formation/{records.formation.pk}/change/",
                         {"app": records.app.pk, "process_type": "web",
                          "quantity": 5}).status_code == 403
    assert operator.post(f"/admin/core/domain/{records.domain.pk}/change/",
                         {"app": records.app.pk,
                          "hostname": "evil.example.com"}).status_code == 403
    records.app.refresh_from_db()
    records.formation.refresh_from_db()
    records.domain.refresh_from_db()
    assert records.app.name == "shop"
    assert list(records.app.collaborators.values_list("username", flat=True)) == [
        "collaborator"]
    assert records.formation.quantity == 1
    assert records.domain.hostname == "shop.example.com"


def test_it_refuses_the_add_and_delete_pages(operator, records):
    for model, pk in _pages(records):
        assert operator.get(f"/admin/core/{model}/add/").status_code == 403
        assert operator.get(f"/admin/core/{model}/{pk}/delete/").status_code == 403
        assert operator.post(f"/admin/core/{model}/{pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert App.objects.filter(pk=records.app.pk).exists()
    assert Formation.objects.filter(pk=records.formation.pk).exists()
    assert Domain.objects.filter(pk=records.domain.pk).exists()


def test_it_offers_no_delete_selected_action_and_deletes_nothing_when_asked(operator, records):
    for model, pk in _pages(records):
        listing = operator.get(f"/admin/core/{model}/")
        assert "delete_selected" not in listing.content.decode()
        operator.post(f"/admin/core/{model}/", {"action": "delete_selected",
                                                "_selected_action": [pk], "post": "yes"})
    assert App.objects.filter(pk=records.app.pk).exists()
    assert Formation.objects.filter(pk=records.formation.pk).exists()
    assert Domain.objects.filter(pk=records.domain.pk).exists()


def test_services_are_listed_read_only_and_without_their_password(django_user_model,
                                                                  platform):
    from paas.core.models import Service, ServiceLink

    superuser = django_user_model.objects.create_superuser("root", password="x")
    owner = django_user_model.objects.create_user("dbowner", password="x")
    service = Service.objects.create(name="db", kind="postgres", owner=owner)
    ServiceLink.objects.create(service=service, app=create_app("linked", owner))
    client = Client()
    client.force_login(superuser)

    listing = client.get("/admin/core/service/")
    page = client.get(f"/admin/core/service/{service.pk}/change/")

    assert listing.status_code == 200 and b"db" in listing.content
    assert page.status_code == 200
    assert service.password.encode() not in page.content
    assert service.volume_name.encode() in page.content
    assert b"linked" in page.content
    model_admin = admin.site._registry[Service]
    request = RequestFactory().get("/")
    request.user = superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request, service)
