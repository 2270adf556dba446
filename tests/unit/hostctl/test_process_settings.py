"""The settings that size the control plane's processes are parsed strictly at start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[3]


def _setting(tmp_path, name: str, **env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("PAAS_", "DJANGO_", "REDIS_URL"))}
    environ.update({"PAAS_HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "paas.settings",
                    **env})
    probe = f"from django.conf import settings; print(settings.{name})"
    return subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("name", "default"), [
    ("PAAS_WEB_WORKERS", "1"), ("PAAS_WEB_THREADS", "32"), ("PAAS_WORKER_CONCURRENCY", "8"),
    ("PAAS_BUILD_CONCURRENCY", "2"),
])
def test_the_control_plane_fits_two_cores_by_default(tmp_path, name, default):
    result = _setting(tmp_path, name)

    assert result.stdout.strip() == default, result.stderr


@pytest.mark.parametrize(("name", "value"), [
    ("PAAS_WEB_WORKERS", "0"), ("PAAS_WEB_WORKERS", "two"), ("PAAS_WEB_THREADS", "2"),
    ("PAAS_WEB_THREADS", "1e3"), ("PAAS_WORKER_CONCURRENCY", "0"),
])
def test_it_refuses_to_start_with_a_bad_process_size(tmp_path, name, value):
    result = _setting(tmp_path, name, **{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
