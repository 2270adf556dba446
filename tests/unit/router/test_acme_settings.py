"""The ACME settings parse strictly, like every setting (read in a fresh interpreter: settings
are read once, at start-up)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[3]
NAMES = ("PAAS_ACME_DIRECTORY", "PAAS_ACME_EMAIL", "PAAS_ACME_CA_BUNDLE", "PAAS_ACME_RENEW_DAYS")
PROBE = ("import json; from django.conf import settings; "
         f"print(json.dumps({{name: getattr(settings, name) for name in {NAMES!r}}}))")


def acme_settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PAAS_")}
    environ.update(PAAS_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="paas.settings", **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT_DIR, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_it_asks_lets_encrypt_production_by_default_and_renews_30_days_ahead(tmp_path):
    result = acme_settings(tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "PAAS_ACME_DIRECTORY": "https://acme-v02.api.letsencrypt.org/directory",
        "PAAS_ACME_EMAIL": None, "PAAS_ACME_CA_BUNDLE": None, "PAAS_ACME_RENEW_DAYS": 30,
    }


def test_it_takes_another_ca_an_email_and_a_ca_bundle(tmp_path):
    bundle = tmp_path / "pebble-ca.pem"
    bundle.write_text("a CA")

    result = acme_settings(
        tmp_path, PAAS_ACME_DIRECTORY="https://127.0.0.1:14000/dir",
        PAAS_ACME_EMAIL="ops@example.com", PAAS_ACME_CA_BUNDLE=str(bundle),
        PAAS_ACME_RENEW_DAYS="10")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "PAAS_ACME_DIRECTORY": "https://127.0.0.1:14000/dir",
        "PAAS_ACME_EMAIL": "ops@example.com", "PAAS_ACME_CA_BUNDLE": str(bundle),
        "PAAS_ACME_RENEW_DAYS": 10,
    }


@pytest.mark.parametrize(("name", "value"), [
    ("PAAS_ACME_DIRECTORY", "http://acme-v02.api.letsencrypt.org/directory"),
    ("PAAS_ACME_DIRECTORY", "acme-v02.api.letsencrypt.org"),
    ("PAAS_ACME_EMAIL", "not-an-address"),
    ("PAAS_ACME_EMAIL", "a@example.com,b@example.com"),
    ("PAAS_ACME_CA_BUNDLE", "/nonexistent/ca.pem"),
    ("PAAS_ACME_RENEW_DAYS", "0"),
    ("PAAS_ACME_RENEW_DAYS", "thirty"),
])
def test_it_refuses_to_start_with_a_bad_acme_setting(tmp_path, name, value):
    result = acme_settings(tmp_path, **{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
