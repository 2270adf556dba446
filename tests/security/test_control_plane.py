"""The control plane's own defaults: production checks pass behind TLS, it answers only for
its own names, and its Redis needs the password paas generated."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paas.hostctl.supervisor import StackSettings, redis_config, render

PROJECT_DIR = Path(__file__).resolve().parents[2]


def manage(tmp_path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("PAAS_", "DJANGO_", "REDIS_URL"))}
    environ.update({"PAAS_HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "paas.settings",
                    **env})
    return subprocess.run([sys.executable, "manage.py", *argv], cwd=PROJECT_DIR, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_deploy_checks_pass_when_the_control_plane_is_served_over_https(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING",
                    PAAS_TLS="true", PAAS_DOMAIN="paas.example.com")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_checks_say_what_is_missing_without_tls(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "10.0.0.1"])
def test_it_answers_only_for_its_own_names(client, host, settings):
    response = client.get("/login/", HTTP_HOST=host)

    assert response.status_code == 400


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "paas.localhost"])
def test_it_answers_for_loopback_and_names_under_paas_domain(client, host):
    assert client.get("/login/", HTTP_HOST=host).status_code == 200


def test_generated_secrets_are_private_and_stable(tmp_path):
    first = manage(tmp_path, "shell", "-c",
                   "from django.conf import settings; print(settings.REDIS_URL)")
    again = manage(tmp_path, "shell", "-c",
                   "from django.conf import settings; print(settings.REDIS_URL)")

    url = first.stdout.strip().splitlines()[-1]
    password = (tmp_path / "redis_password").read_text().strip()
    assert url == again.stdout.strip().splitlines()[-1]
    assert url == f"redis://:{password}@127.0.0.1:6380/0" and len(password) >= 32
    for name in ("redis_password", "secret_key"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name


def test_paas_runs_its_redis_with_that_password_from_a_private_file(tmp_path):
    stack = StackSettings(home=tmp_path, project_dir=PROJECT_DIR, control_port=8000,
                          router_port=8080, bind_address="127.0.0.1",
                          redis_url="redis://:s3cret-pass@127.0.0.1:6380/0",
                          worker_concurrency=1, build_concurrency=1,
                          nginx_binary="/usr/sbin/nginx", env={})
    (tmp_path / "run").mkdir()

    supervisor = render(stack)

    assert "s3cret-pass" not in supervisor  # not on any command line
    assert "requirepass s3cret-pass" in redis_config(stack).splitlines()
    assert "bind 127.0.0.1" in redis_config(stack).splitlines()
    assert stack.redis_config_path.stat().st_mode & 0o077 == 0
    assert stack.redis_config_path.read_text() == redis_config(stack)


def test_redis_runs_as_the_service_user_and_owns_only_its_files(tmp_path):
    import getpass

    me = getpass.getuser()  # the test cannot make users; any existing one shows the wiring
    stack = StackSettings(home=tmp_path, project_dir=PROJECT_DIR, control_port=8000,
                          router_port=8080, bind_address="127.0.0.1",
                          redis_url="redis://:pw@127.0.0.1:6380/0", worker_concurrency=1,
                          build_concurrency=1, nginx_binary="/usr/sbin/nginx", env={},
                          service_user=me)
    (tmp_path / "run").mkdir()

    sections = render(stack).split("\n\n")

    (redis,) = [s for s in sections if s.startswith("[program:redis]")]
    assert f"user={me}" in redis.splitlines()
    assert all("user=" not in s for s in sections if s.startswith("[program:web]"))
    # It starts in its own directory: the project may be one only root can enter.
    assert f"directory={tmp_path / 'redis'}" in redis.splitlines()
    (web,) = [s for s in sections if s.startswith("[program:web]")]
    assert f"directory={PROJECT_DIR}" in web.splitlines()


def test_paas_redis_is_bounded_and_never_evicts_a_lock(tmp_path):
    stack = StackSettings(home=tmp_path, project_dir=PROJECT_DIR, control_port=8000,
                          router_port=8080, bind_address="127.0.0.1",
                          redis_url="redis://:pw@127.0.0.1:6380/0", worker_concurrency=1,
                          build_concurrency=1, nginx_binary="/usr/sbin/nginx", env={},
                          redis_max_memory="64mb")

    lines = redis_config(stack).splitlines()

    assert "maxmemory 64mb" in lines and "maxmemory-policy noeviction" in lines


@pytest.mark.parametrize("value", ["lots", "0mb", "256", "-1gb", "1tb"])
def test_a_bad_redis_memory_bound_stops_paas_at_start(tmp_path, value):
    result = manage(tmp_path, "check", PAAS_REDIS_MAX_MEMORY=value)

    assert result.returncode != 0
    assert "PAAS_REDIS_MAX_MEMORY must look like 256mb" in result.stderr
