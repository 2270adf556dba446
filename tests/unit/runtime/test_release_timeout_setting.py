"""PAAS_RELEASE_TIMEOUT parses strictly, like every setting (read in a fresh interpreter:
settings are read once, at start-up)."""

import os
import subprocess
import sys

import pytest

PROBE = "from django.conf import settings; print(settings.PAAS_RELEASE_TIMEOUT)"


def read_setting(value: str | None, tmp_path) -> subprocess.CompletedProcess:
    env = {key: val for key, val in os.environ.items() if not key.startswith("PAAS_")}
    env.update(PAAS_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="paas.settings")
    if value is not None:
        env["PAAS_RELEASE_TIMEOUT"] = value
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); " + PROBE],
                          env=env, capture_output=True, text=True, timeout=60)


def test_it_defaults_to_ten_minutes(tmp_path):
    result = read_setting(None, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "600"


def test_it_takes_a_whole_number_of_seconds(tmp_path):
    result = read_setting("90", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "90"


@pytest.mark.parametrize("value", ["ten", "0", "-5", "1.5"])
def test_it_rejects_anything_else(tmp_path, value):
    result = read_setting(value, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "PAAS_RELEASE_TIMEOUT" in result.stderr
