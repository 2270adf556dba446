"""A Django app in the shape of Heroku's getting-started one: its database from DATABASE_URL
(dj-database-url), migrated in the release phase, a page that records a greeting per visit.
Pushed by tests/e2e/test_services_django.py, linked to a paas PostgreSQL service."""

import os
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("SECRET_KEY", "django-postgres-sample-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles", "hello"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "gettingstarted.urls"
WSGI_APPLICATION = "gettingstarted.wsgi.application"
# The link sets DATABASE_URL; before it (the first push, collectstatic at build time) a
# throwaway SQLite file, as the getting-started app falls back to.
DATABASES = {"default": dj_database_url.config(
    default=f"sqlite:///{tempfile.gettempdir()}/db.sqlite3", conn_max_age=60,
    conn_health_checks=True)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEMPLATES: list = []
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
