"""Hostile input at the edges is refused with a stable code, never rewritten, and changes
nothing: names, refs, config keys and values, domains, quantities, rollback targets, app.json
and bin/release output."""

import json

import pytest
from django.test import override_settings

from paas.build.buildpack_runner import parse_release_output
from paas.core import actions, applications, releases
from paas.core.builds import _read_app_json
from paas.core.models import App, Domain
from paas.errors import UserError
from paas.names import (
    MAX_CONFIG_VALUE_BYTES,
    validate_hostname,
    validate_ref_name,
)
from paas.runtime import docker_scheduler, scheduler
from paas.runtime.docker_scheduler import DockerScheduler
from paas.runtime.health import HealthCheck, checks_from_app_json, probe
from tests.fakes import FakeRouter
from tests.unit.runtime.fake_docker import FakeDocker

pytestmark = pytest.mark.django_db


def snapshot(app: App) -> tuple:
    """Everything a refused change must leave as it was."""
    app.refresh_from_db()
    return (dict(app.config), list(app.releases.values_list("number", "status")),
            sorted(app.formations.values_list("process_type", "quantity")),
            sorted(Domain.objects.values_list("hostname", "app__name")),
            sorted(App.objects.values_list("name", flat=True)))


# --- app names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "../etc", "shop;rm -rf /", "$(id)", "-rf", "Shop", "shop\n", "a" * 31, "", "shop.evil",
    "ｓhop",  # a fullwidth s: looks like shop, is not
])
def test_it_refuses_a_hostile_app_name_and_creates_nothing(users, name):
    with pytest.raises(UserError) as raised:
        applications.create_app(name, users.owner)

    assert raised.value.code == "invalid_app_name"
    assert not App.objects.exists()


def test_it_refuses_an_app_name_whose_address_is_already_another_apps_domain(users):
    shop = applications.create_app("shop", users.owner)
    Domain.objects.create(app=shop, hostname="checkout.localhost")

    with pytest.raises(UserError) as raised:
        applications.create_app("checkout", users.outsider)

    assert raised.value.code == "domain_taken"
    assert list(App.objects.values_list("name", flat=True)) == ["shop"]


# --- ref names ----------------------------------------------------------------------------

@pytest.mark.parametrize("ref", [
    b"refs/heads/-rf", b"refs/heads/--upload-pack=touch", b"refs/tags/-x", b"refs/heads/a..b",
    b"refs/heads/a b", b"refs/heads/a~1", b"refs/heads/a^", b"refs/heads/a:b", b"refs/heads/a?",
    b"refs/heads/a*", b"refs/heads/a[", b"refs/heads/a\\b", b"refs/heads/x.lock",
    b"refs/heads/.hidden", b"refs/heads/a/", b"refs/heads/a.", b"refs/heads/a@{1}",
    b"refs/heads/a//b", b"refs/heads/a\x01", b"refs/heads/a\x7f", b"refs/heads/\xff",
    b"refs/notes/commits", b"refs/remotes/origin/main", b"HEAD", b"refs/heads/",
    b"refs/heads/" + b"a" * 250,
])
def test_it_refuses_a_ref_name_git_would_refuse_or_that_reads_as_an_option(ref):
    with pytest.raises(UserError) as raised:
        validate_ref_name(ref)

    assert raised.value.code == "invalid_ref_name"


@pytest.mark.parametrize("ref", [b"refs/heads/main", b"refs/heads/feature/x-1",
                                 b"refs/tags/v1.0", "refs/heads/caf\u00e9"])
def test_it_accepts_ordinary_branch_and_tag_names(ref):
    assert validate_ref_name(ref).startswith("refs/")


# --- config keys and values ---------------------------------------------------------------

@pytest.mark.parametrize(("changes", "code"), [
    ({"A\x00B": "x"}, "invalid_config_key"),
    ({"A=B": "x"}, "invalid_config_key"),
    ({"LD PRELOAD": "x"}, "invalid_config_key"),
    ({"SECRET": "a\x00b"}, "invalid_config_value"),
    ({"SECRET": 5}, "invalid_config_value"),
    ({"SECRET": None}, "invalid_config_value"),
    ({"SECRET": ["a"]}, "invalid_config_value"),
    ({"SECRET": "x" * (MAX_CONFIG_VALUE_BYTES + 1)}, "invalid_config_value"),
    ({"SECRET": "\u00e9" * (MAX_CONFIG_VALUE_BYTES // 2 + 1)}, "invalid_config_value"),
    ({f"K{i}": "x" * 30000 for i in range(9)}, "config_too_large"),
])
def test_it_refuses_a_hostile_config_change_and_changes_nothing(platform, app, users, changes,
                                                                 code):
    before = snapshot(app)

    for attempt in (lambda: actions.start_config_change(app, users.owner, changes, []),
                    lambda: releases.set_config(app, changes, [], users.owner)):
        with pytest.raises(UserError) as raised:
            attempt()
        assert raised.value.code == code

    assert snapshot(app) == before
    assert platform.queue.sent == []


def test_it_counts_the_config_already_set_towards_the_total(app, users):
    releases.set_config(app, {f"K{i}": "x" * 30000 for i in range(8)}, [], users.owner)
    before = snapshot(app)

    with pytest.raises(UserError) as raised:
        releases.set_config(app, {"ONE_MORE": "x" * 30000}, [], users.owner)

    assert raised.value.code == "config_too_large"
    assert snapshot(app) == before


@pytest.mark.parametrize("value", [
    "$(touch /tmp/pwned)", "`touch /tmp/pwned`", "${HOME}", "$HOME", "a'b\"c;d|e&f",
    "-----BEGIN KEY-----\nline two\n-----END KEY-----\n",  # newlines are allowed: PEM keys
])
def test_it_passes_a_config_value_to_the_container_verbatim(platform, app, users, value,
                                                            monkeypatch):
    monkeypatch.setattr(docker_scheduler, "wait_until_healthy", lambda *args, **kwargs: None)
    monkeypatch.setattr(scheduler, "ROUTER_SETTLE_SECONDS", 0)
    release = releases.set_config(app, {"PAYLOAD": value}, [], users.owner)

    assert release is not None
    app.refresh_from_db()
    assert app.config["PAYLOAD"] == value
    assert release.config_snapshot["PAYLOAD"] == value
    assert platform.scheduler.converged[-1].env["PAYLOAD"] == value
    # And the Docker engine hands it to Docker as environment data, not to a shell.
    engine = FakeDocker()
    runtime = DockerScheduler(engine, FakeRouter(engine.events), healthcheck_timeout=5,
                              drain_seconds=0)
    runtime.converge(releases.desired_state(release))
    spec = engine.containers[f"paas.shop.web.1.v{release.number}"].spec
    assert spec.env["PAYLOAD"] == value
    assert value not in " ".join(spec.command or [])


# --- domains ------------------------------------------------------------------------------

@pytest.mark.parametrize(("hostname", "code"), [
    ("other.localhost", "domain_taken"),       # another app's default host
    ("future-app.localhost", "domain_taken"),  # an app that may be created later
    ("shop.localhost", "domain_taken"),        # its own default host, again
    ("Shop.Example.com", "invalid_domain"),    # refused, not folded to lowercase
    ("example.com.", "invalid_domain"),
    ("*.example.com", "invalid_domain"),
    ("-bad.example.com", "invalid_domain"),
    ("bad-.example.com", "invalid_domain"),
    ("a" * 64 + ".example.com", "invalid_domain"),
    (("a" * 62 + ".") * 4 + "com", "invalid_domain"),  # 255 characters
    ("127.0.0.1", "invalid_domain"),
    ("localhost", "invalid_domain"),
    ("exa mple.com", "invalid_domain"),
    ("example.com\nserver_name evil", "invalid_domain"),
    ("xn--e1afmkfd.xn--p1ai;", "invalid_domain"),
    ("taken.example.com", "domain_taken"),     # another app's custom domain
])
def test_it_refuses_a_hostile_or_taken_domain_and_routes_nothing(platform, users, app,
                                                                   hostname, code):
    other = applications.create_app("other", users.outsider)
    Domain.objects.create(app=other, hostname="taken.example.com")
    before = snapshot(app)
    converges = len(platform.scheduler.converged)

    with pytest.raises(UserError) as raised:
        applications.add_domain(app, hostname)

    assert raised.value.code == code
    assert snapshot(app) == before
    assert len(platform.scheduler.converged) == converges  # the router was not touched


def test_it_accepts_a_domain_under_an_apps_default_host(platform, app):
    applications.add_domain(app, "www.shop.localhost")

    assert "www.shop.localhost" in platform.scheduler.converged[-1].hostnames


@override_settings(PAAS_DOMAIN="apps.example.com")
def test_it_reserves_the_default_hosts_under_the_configured_domain(users, app):
    with pytest.raises(UserError) as raised:
        applications.add_domain(app, "billing.apps.example.com")

    assert raised.value.code == "domain_taken"
    assert not Domain.objects.exists()


@pytest.mark.parametrize("hostname", ["www.example.com", "a.b", "xn--e1afmkfd.xn--p1ai"])
def test_it_accepts_ordinary_domains(hostname):
    assert validate_hostname(hostname) == hostname


# --- quantities and rollback targets ------------------------------------------------------

@pytest.mark.parametrize("quantities", [
    {"web": -1}, {"web": 21}, {"web": 10**30}, {"web": True}, {"web": "2"}, {"web": 1.5},
    {"web": None}, {"../web": 1},
])
def test_it_refuses_a_hostile_quantity_and_scales_nothing(platform, app, users, quantities):
    before = snapshot(app)

    with pytest.raises(UserError) as raised:
        actions.start_scale(app, users.owner, quantities)

    assert raised.value.code in ("invalid_quantity", "invalid_process_type")
    assert snapshot(app) == before
    assert platform.queue.sent == []


@pytest.mark.parametrize("version", [
    "latest", "v0", "0", "-1", " 1", "1 ", "1.0", "v1_0", "\u0661", 10**30, 0, -1, True, None,
    1.0, "v" + "9" * 5000, [1],
])
def test_it_refuses_a_hostile_rollback_target_and_releases_nothing(platform, app, users,
                                                                    version):
    before = snapshot(app)

    with pytest.raises(UserError) as raised:
        actions.start_rollback(app, users.owner, version)

    assert raised.value.code == "invalid_request"
    assert snapshot(app) == before
    assert platform.queue.sent == []


def test_it_accepts_the_rollback_target_forms_it_documents(app, users):
    assert actions.parse_version("v1") == actions.parse_version("1") == 1
    assert actions.parse_version(1) == actions.parse_version("V1") == 1


# --- app.json -----------------------------------------------------------------------------

@pytest.mark.parametrize("app_json", [
    {"healthchecks": {"web": [{"initialDelay": 301}]}},
    {"healthchecks": {"web": [{"initialDelay": 10**9}]}},
    {"healthchecks": {"web": [{"timeout": 61}]}},
    {"healthchecks": {"web": [{"timeout": 0}]}},
    {"healthchecks": {"web": [{"attempts": 61}]}},
    {"healthchecks": {"web": [{"attempts": 0}]}},
    {"healthchecks": {"web": [{"attempts": 2.5}]}},
    {"healthchecks": {"web": [{"attempts": True}]}},
    {"healthchecks": {"web": [{"wait": -1}]}},
    {"healthchecks": {"web": [{"wait": "1"}]}},
    {"healthchecks": {"web": [{"path": "health"}]}},
    {"healthchecks": {"web": [{"path": "/ HTTP/1.1\r\nHost: evil"}]}},
    {"healthchecks": {"web": [{"content": 5}]}},
    {"healthchecks": {"web": [{}] * 11}},
    {"healthchecks": {"web": "/health"}},
    {"healthchecks": {"web": ["/health"]}},
    {"healthchecks": []},
    {"formation": {"web": {"quantity": 21}}},
    {"formation": {"web": {"quantity": -1}}},
    {"formation": {"web": {"quantity": "1"}}},
    {"formation": {"Web!": {"quantity": 1}}},
    {"formation": {"web": 1}},
    {"formation": []},
])
def test_it_refuses_an_app_json_out_of_bounds(tmp_path, app_json):
    (tmp_path / "app.json").write_text(json.dumps(app_json))

    with pytest.raises(UserError) as raised:
        _read_app_json(tmp_path)

    assert raised.value.code == "invalid_app_json"


@pytest.mark.parametrize("text", [
    '{"healthchecks": {"web": [{"timeout": NaN}]}}',
    '{"healthchecks": {"web": [{"initialDelay": Infinity}]}}',
    "[" * 100_000,
    '{"a": "' + "x" * 70_000 + '"}',
    "[]",
    "not json",
])
def test_it_refuses_an_app_json_that_is_too_large_or_no_object(tmp_path, text):
    (tmp_path / "app.json").write_text(text)

    with pytest.raises(UserError) as raised:
        _read_app_json(tmp_path)

    assert raised.value.code == "invalid_app_json"


def test_it_refuses_an_app_json_that_links_out_of_the_tree(tmp_path):
    (tmp_path / "app.json").symlink_to("/etc/hostname")

    with pytest.raises(UserError) as raised:
        _read_app_json(tmp_path)

    assert raised.value.code == "invalid_app_json"


def test_it_accepts_checks_at_their_bounds(tmp_path):
    app_json = {"healthchecks": {"web": [{"path": "/health", "attempts": 60, "timeout": 60,
                                          "wait": 60, "initialDelay": 300,
                                          "type": "startup"}]},
                "formation": {"web": {"quantity": 20}, "worker": {"quantity": 0}}}
    (tmp_path / "app.json").write_text(json.dumps(app_json))

    assert _read_app_json(tmp_path) == app_json
    [check] = checks_from_app_json(app_json)
    assert (check.attempts, check.timeout, check.initial_delay) == (60, 60, 300)


# --- health checks ------------------------------------------------------------------------

class _Answer:
    """A one-shot HTTP server on loopback answering every request with ``status``."""

    def __init__(self, status: int) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [
    (200, True), (301, True), (404, True), (500, False), (502, False), (503, False)])
def test_the_default_check_fails_an_app_answering_a_server_error(status, healthy):
    server = _Answer(status)
    try:
        problem = probe(f"127.0.0.1:{server.port}", HealthCheck())
    finally:
        server.close()

    assert (problem is None) is healthy
    if not healthy:
        assert f"HTTP {status}" in problem


def test_an_app_json_check_fails_on_a_client_error_too():
    server = _Answer(404)
    try:
        problem = probe(f"127.0.0.1:{server.port}", HealthCheck.from_app_json({"path": "/health"}))
    finally:
        server.close()

    assert problem == "GET /health: HTTP 404"


def test_no_initial_delay_outlasts_the_deploys_deadline():
    from paas.runtime.health import HealthCheckFailed, wait_until_healthy

    check = HealthCheck.from_app_json({"initialDelay": 300})
    with pytest.raises(HealthCheckFailed) as raised:
        wait_until_healthy("127.0.0.1:1", [check], lambda: True, deadline_seconds=5,
                           log=lambda line: None)

    assert "PAAS_HEALTHCHECK_TIMEOUT" in str(raised.value)


# --- bin/release output -------------------------------------------------------------------

@pytest.mark.parametrize("output", [
    b"default_process_types:\n  ../web: run\n",
    b"default_process_types:\n  'web;rm': run\n",
    b"default_process_types:\n  Web: run\n",
    b"default_process_types:\n  '': run\n",
    b"default_process_types:\n  1: run\n",
    b'{"default_process_types": {"we b": "run"}}',
])
def test_it_refuses_a_buildpack_process_type_a_procfile_could_not_name(output):
    with pytest.raises(UserError) as raised:
        parse_release_output(output)

    assert raised.value.code == "invalid_release_output"


@pytest.mark.parametrize("name", ["stack", "stack-base", "controlplane"])
def test_it_refuses_an_app_named_after_paas_own_images(name, users):
    with pytest.raises(UserError) as raised:
        applications.create_app(name, users.owner)

    assert raised.value.code == "invalid_app_name"
    assert f"paas/{name}" in str(raised.value)
    assert not App.objects.filter(name=name).exists()
