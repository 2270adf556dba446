"""paas: a git-push platform for web apps."""

from paas.celery import app as celery_app

__all__ = ["celery_app"]
