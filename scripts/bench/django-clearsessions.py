"""Django 3.2's own `clearsessions` on a PostgreSQL table: the reference the benchmark's cleanup is
measured against, as an operator runs it (a process: Python, Django's setup, then one
`DELETE FROM <table> WHERE expire_date < now`).

    python3 scripts/bench/django-clearsessions.py HOST PORT DATABASE TABLE
"""
import sys

import django
from django.conf import settings

host, port, database, table = sys.argv[1:5]
settings.configure(
    DATABASES={'default': {'ENGINE': 'django.db.backends.postgresql', 'HOST': host, 'PORT': port, 'USER': 'postgres', 'NAME': database}},
    INSTALLED_APPS=['django.contrib.sessions'],
    SECRET_KEY='bench-secret-key-not-for-production',
    USE_TZ=True,
)
django.setup()

from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402

Session._meta.db_table = table
call_command('clearsessions')
