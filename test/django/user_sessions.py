#!/usr/bin/python3
"""Sessions written the way django-user-sessions and django-qsessions write them, by real Django 3.2.

Neither package is installable here (no Python package registry; Debian ships neither), so this
script declares their Session models with the fields of their published migrations
(jazzband/django-user-sessions 0001-0003, QueraTeam/django-qsessions 0001-0002), has Django's own
schema editor create the tables from them, and writes sessions through Django's db SessionStore
subclassed as the packages subclass it: the user id from _auth_user_id into user_id, the client's
IP and user agent into their columns (qsessions also into the session data, under
_qsessions_ip / _qsessions_user_agent), created_at kept from the first save, updated_at /
last_activity auto_now. The login itself is django.contrib.auth.login, as in django_sessions.py.

Usage: /usr/bin/python3 test/django/user_sessions.py < in.json
  {"package": "user_sessions" | "qsessions", "secretKey": "...", "mysql": {...},
   "sessions": [{"user": "42" | null, "ip": "203.0.113.7", "userAgent": "...", "data": {...}}]}
Answer: {"table": "...", "sessions": [{"key": "...", "user": "42"}]}
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import django_sessions as ds  # noqa: E402  (checks Django 3.1/3.2 and the drivers on import)

TABLES = {'user_sessions': 'user_sessions_session', 'qsessions': 'qsessions_session'}


def models_for(package):
    from django.conf import settings
    from django.contrib.sessions.base_session import AbstractBaseSession
    from django.db import models
    from django.utils import timezone

    if package == 'user_sessions':
        class Session(AbstractBaseSession):
            user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
            user_agent = models.CharField(null=True, blank=True, max_length=200)
            last_activity = models.DateTimeField(auto_now=True)
            ip = models.GenericIPAddressField(null=True, blank=True, verbose_name='IP')

            class Meta:
                app_label = 'user_sessions'
                db_table = 'user_sessions_session'
        return Session

    class Session(AbstractBaseSession):
        user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
        user_agent = models.CharField(null=True, blank=True, max_length=300)
        created_at = models.DateTimeField(null=True)
        updated_at = models.DateTimeField(auto_now=True)
        ip = models.GenericIPAddressField(null=True, blank=True, verbose_name='IP')

        class Meta:
            app_label = 'qsessions'
            db_table = 'qsessions_session'

        def save(self, *args, **kwargs):
            # qsessions.models.Session.save: created_at survives later saves.
            try:
                self.created_at = Session.objects.get(pk=self.pk).created_at
            except Session.DoesNotExist:
                self.created_at = timezone.now()
            super().save(*args, **kwargs)
    return Session


def store_class(package, model):
    from django.contrib import auth
    from django.contrib.sessions.backends.db import SessionStore as DBStore

    class SessionStore(DBStore):
        def __init__(self, session_key=None, user_agent=None, ip=None):
            limit = 200 if package == 'user_sessions' else 300
            self.user_agent = user_agent[:limit] if user_agent else user_agent
            self.ip = ip
            super().__init__(session_key)

        @classmethod
        def get_model_class(cls):
            return model

        def save(self, must_create=False):
            if package == 'qsessions':
                # QSessionStoreMixin.save: the client also goes into the session data.
                self['_qsessions_user_agent'] = self.user_agent
                self['_qsessions_ip'] = self.ip
            super().save(must_create)

        def create_model_instance(self, data):
            return self.model(
                session_key=self._get_or_create_session_key(),
                session_data=self.encode(data),
                expire_date=self.get_expiry_date(),
                user_id=self.get(auth.SESSION_KEY),
                user_agent=self.user_agent,
                ip=self.ip,
            )
    return SessionStore


def main():
    obj = json.load(sys.stdin)
    package = obj['package']
    if package not in TABLES:
        ds.fail('"package" must be one of %s' % sorted(TABLES), ds.EXIT_BAD_INPUT)
    database = ds.parse_database(obj)
    ds.configure(obj['secretKey'], database)
    ds.ensure_database(database)
    ds.ensure_tables('django_session', with_auth=True)
    from django.contrib.auth import login
    from django.db import connection
    from django.test import RequestFactory

    model = models_for(package)
    if TABLES[package] not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(model)
    Store = store_class(package, model)
    seeder = ds.Seeder(store_users=True)
    out = []
    for spec in obj['sessions']:
        request = RequestFactory().get('/', HTTP_USER_AGENT=spec.get('userAgent') or '', REMOTE_ADDR=spec.get('ip') or '')
        request.session = Store(None, user_agent=spec.get('userAgent'), ip=spec.get('ip'))
        for k, v in spec.get('data', {}).items():
            request.session[k] = v
        if spec.get('user') is not None:
            login(request, seeder.user(str(spec['user'])))
        request.session.save()
        out.append({'key': request.session.session_key, 'user': spec.get('user')})
    sys.stdout.write(json.dumps({'table': TABLES[package], 'sessions': out}) + '\n')


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # one JSON line, as django_sessions.py reports failures
        import traceback
        ds.fail('%s: %s' % (type(e).__name__, e), ds.EXIT_FAILURE, traceback=traceback.format_exc().splitlines()[-6:])
