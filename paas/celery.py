"""The Celery application: an entry point, so it may read the environment."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")

app = Celery("paas", include=["worker.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
