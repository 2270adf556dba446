#!/usr/bin/env python
"""The python-django sample's manage.py (the python buildpack runs collectstatic with it)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hello.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
