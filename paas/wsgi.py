"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
django_application = get_wsgi_application()

# Interactive sessions (`paas run` from a terminal, `<kind>:connect`) take their connection
# over; imported once Django is set up.
from paas.api.tty import hijack_aware  # noqa: E402

application = hijack_aware(django_application)
