#!/usr/bin/python3
"""Real Django as a test oracle for sessionctl.

Writes sessions with Django's own session stores (and the real ``django.contrib.auth.login``)
into MySQL/MariaDB or PostgreSQL and Redis, and answers "which sessions belong to user U" the way Django
itself sees them. No Django project on disk: settings are configured in code.

Usage (JSON on stdin, JSON on stdout; errors as JSON on stderr with a non-zero exit):

    /usr/bin/python3 test/django/django_sessions.py seed    < in.json
    /usr/bin/python3 test/django/django_sessions.py answer  < in.json
    /usr/bin/python3 test/django/django_sessions.py dump    < in.json
    /usr/bin/python3 test/django/django_sessions.py formats < in.json

See test/django/README.md for the protocol. Needs Django 3.2 (Debian bookworm's python3-django):
the pre-3.1 "legacy" format can only be written by Django 3.1/3.2.
"""

import base64
import json
import logging
import re
import sys
import time
import warnings

APT_LINE = 'apt-get install -y python3-django python3-mysqldb python3-psycopg2 python3-django-redis python3-redis'

# Exit codes: 2 = bad input / missing dependency, 1 = anything that failed while running.
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class InputError(Exception):
    """The JSON on stdin (or the command line) is not what the protocol expects."""


def fail(message, code=EXIT_FAILURE, **extra):
    sys.stderr.write(json.dumps({'error': message, **extra}) + '\n')
    sys.exit(code)


def require_module(name):
    try:
        return __import__(name)
    except ImportError as e:
        fail('Python module %r is not importable by %s (%s)' % (name, sys.executable, e),
             EXIT_BAD_INPUT, install=APT_LINE,
             hint='run this script with /usr/bin/python3, not a pyenv/virtualenv python')


django = require_module('django')
if not ((3, 1) <= django.VERSION[:2] < (4, 0)):
    # 4.0 removed DEFAULT_HASHING_ALGORITHM and the legacy (pre-3.1) session format.
    fail('Django %s found; this script needs Django 3.1/3.2 (Debian bookworm python3-django 3.2.25)'
         % django.get_version(), EXIT_BAD_INPUT, install=APT_LINE)

# Django 3.2 warns (RemovedInDjango40Warning) about DEFAULT_HASHING_ALGORITHM and
# PickleSerializer; those are exactly the things we are asked to exercise.
warnings.simplefilter('ignore')

SESSION_ENGINES = {
    'db': 'django.contrib.sessions.backends.db',
    'cache': 'django.contrib.sessions.backends.cache',
    'cached_db': 'django.contrib.sessions.backends.cached_db',
}
SERIALIZERS = {
    'json': 'django.contrib.sessions.serializers.JSONSerializer',
    'pickle': 'django.contrib.sessions.serializers.PickleSerializer',
}
FORMATS = ('signed', 'legacy', 'pickle')
COMPRESSORS = {  # only the django-redis compressors that need nothing beyond the stdlib
    None: None,
    'zlib': 'django_redis.compressors.zlib.ZlibCompressor',
    'lzma': 'django_redis.compressors.lzma.LzmaCompressor',
}
# Cache keys are '<KEY_PREFIX>:<VERSION>:' + one of these + session key (backends/cache.py,
# backends/cached_db.py). Note that 'django.contrib.sessions.cache' is a string prefix of
# 'django.contrib.sessions.cached_db', so a naive SCAN for the first also returns the second.
CACHE_KEY_PREFIX = 'django.contrib.sessions.cache'
CACHED_DB_KEY_PREFIX = 'django.contrib.sessions.cached_db'
EXPIRED_SET_EXPIRY = -3600  # seconds given to session.set_expiry() for "expired": true
IDENTIFIER = re.compile(r'^[A-Za-z0-9_$]{1,64}$')


# ---------------------------------------------------------------------------------------------
# Input parsing / validation (before Django is configured, so errors are cheap and clear)


def get(obj, key, kind, where, default=..., allow_none=False):
    if key not in obj or (obj[key] is None and not allow_none and default is not ...):
        if default is ...:
            raise InputError('%s: missing "%s"' % (where, key))
        return default
    value = obj[key]
    if value is None and allow_none:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else '/'.join(k.__name__ for k in kind)
        raise InputError('%s: "%s" must be %s, got %r' % (where, key, names, value))
    return value


DEFAULT_PORTS = {'mysql': 3306, 'postgres': 5432}


def parse_database(obj, required=True):
    """The database target: a "mysql" or a "postgres" connection object (not both)."""
    given = [vendor for vendor in DEFAULT_PORTS if obj.get(vendor) is not None]
    if len(given) > 1:
        raise InputError('give "mysql" or "postgres", not both')
    if not given:
        if required:
            raise InputError('missing "mysql" or "postgres" connection object')
        return None
    vendor = given[0]
    m = obj[vendor]
    if not isinstance(m, dict):
        raise InputError('"%s" must be an object' % vendor)
    return {
        'vendor': vendor,
        'host': get(m, 'host', str, vendor, '127.0.0.1'),
        'port': get(m, 'port', int, vendor, DEFAULT_PORTS[vendor]),
        'user': get(m, 'user', str, vendor),
        'password': get(m, 'password', str, vendor, ''),
        'database': get(m, 'database', str, vendor),
    }


def parse_redis(obj):
    r = obj.get('redis')
    if r is None:
        return None
    if not isinstance(r, dict):
        raise InputError('"redis" must be an object or null')
    return {
        'host': get(r, 'host', str, 'redis', '127.0.0.1'),
        'port': get(r, 'port', int, 'redis', 6379),
        'db': get(r, 'db', int, 'redis', 0),
        'password': get(r, 'password', str, 'redis', None, allow_none=True),
    }


def parse_cache_settings(obj, where):
    compressor = obj.get('compressor')
    if compressor not in COMPRESSORS:
        raise InputError('%s: "compressor" must be one of %s' % (where, sorted(k or 'null' for k in COMPRESSORS)))
    return (get(obj, 'cachePrefix', str, where, ''), get(obj, 'cacheVersion', int, where, 1), compressor)


def parse_user(value, where):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError('%s: "user" must be a string (or integer) or null' % where)
    return str(value)


def parse_common(obj):
    if not isinstance(obj, dict):
        raise InputError('stdin must be a JSON object')
    table = get(obj, 'table', str, 'input', 'django_session')
    if not IDENTIFIER.match(table):
        raise InputError('"table" must be a plain identifier, got %r' % table)
    return {'secretKey': get(obj, 'secretKey', str, 'input'), 'table': table}


def parse_session_spec(i, s):
    where = 'sessions[%d]' % i
    if not isinstance(s, dict):
        raise InputError('%s must be an object' % where)
    engine = get(s, 'engine', str, where, 'db')
    if engine not in SESSION_ENGINES:
        raise InputError('%s: "engine" must be one of %s' % (where, sorted(SESSION_ENGINES)))
    fmt = get(s, 'format', str, where, 'signed')
    if fmt not in FORMATS:
        raise InputError('%s: "format" must be one of %s' % (where, list(FORMATS)))
    data = get(s, 'data', dict, where, {})
    try:
        json.dumps(data)
    except (TypeError, ValueError) as e:
        raise InputError('%s: "data" is not JSON-able: %s' % (where, e))
    return {
        'ref': str(s.get('ref', i)),
        'engine': engine,
        'format': fmt,
        'user': parse_user(s.get('user'), where),
        'data': data,
        'expired': get(s, 'expired', bool, where, False),
        'expiryAge': get(s, 'expiryAge', int, where, None, allow_none=True),
        'cache': parse_cache_settings(s, where),
    }


# ---------------------------------------------------------------------------------------------
# Django configuration


def redis_location(redis):
    auth = ':%s@' % redis['password'] if redis.get('password') else ''
    return 'redis://%s%s:%d/%d' % (auth, redis['host'], redis['port'], redis['db'])


def cache_config(redis, cache_settings):
    prefix, version, compressor = cache_settings
    options = {'CLIENT_CLASS': 'django_redis.client.DefaultClient'}
    if COMPRESSORS[compressor]:
        options['COMPRESSOR'] = COMPRESSORS[compressor]
    return {
        'BACKEND': 'django_redis.cache.RedisCache',
        'LOCATION': redis_location(redis),
        'KEY_PREFIX': prefix,
        'VERSION': version,
        'OPTIONS': options,
    }


def configure(secret_key, database=None, redis=None, cache_settings_list=()):
    """settings.configure() + django.setup(). Returns {cache_settings_tuple: cache alias}.

    Every distinct (prefix, version, compressor) gets its own CACHES alias; sessions pick theirs
    with SESSION_CACHE_ALIAS (read by the cache/cached_db SessionStore constructors).
    """
    from django.conf import settings

    caches = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}
    aliases = {}
    if redis is not None:
        require_module('redis')
        require_module('django_redis')
        for cs in cache_settings_list:
            if cs not in aliases:
                aliases[cs] = 'sessions%d' % len(aliases)
                caches[aliases[cs]] = cache_config(redis, cs)
    databases = {}
    if database is not None and database['vendor'] == 'mysql':
        require_module('MySQLdb')
        databases['default'] = {
            'ENGINE': 'django.db.backends.mysql',
            'HOST': database['host'], 'PORT': database['port'],
            'USER': database['user'], 'PASSWORD': database['password'],
            'NAME': database['database'],
            'OPTIONS': {'charset': 'utf8mb4'},
        }
    elif database is not None:
        require_module('psycopg2')
        # With USE_TZ=True Django sets the connection's TimeZone to UTC itself, whatever the
        # server's or the database's default is; expire_date is timestamp with time zone.
        databases['default'] = {
            'ENGINE': 'django.db.backends.postgresql',
            'HOST': database['host'], 'PORT': database['port'],
            'USER': database['user'], 'PASSWORD': database['password'],
            'NAME': database['database'],
        }
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secret_key,
        USE_TZ=True,
        TIME_ZONE='UTC',
        INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.auth', 'django.contrib.sessions'],
        DATABASES=databases,
        CACHES=caches,
        SESSION_ENGINE=SESSION_ENGINES['db'],
        SESSION_SERIALIZER=SERIALIZERS['json'],
        DEFAULT_AUTO_FIELD='django.db.models.AutoField',
        # A fast (but real Django) hasher: the password hash only feeds _auth_user_hash, and
        # PBKDF2's 260000 iterations would cost ~0.2 s per user.
        PASSWORD_HASHERS=['django.contrib.auth.hashers.MD5PasswordHasher'],
        LOGGING_CONFIG=None,  # keep Django's console logging off stdout/stderr
    )
    django.setup()
    # With LOGGING_CONFIG=None, Python's last-resort handler would print Django's
    # "Session data corrupted" warnings to stderr; undecodable rows are reported in the JSON.
    logging.getLogger('django').addHandler(logging.NullHandler())
    return aliases


def format_settings(fmt, engine=None, cache_alias=None, expiry_age=None):
    """Settings to override while one session is written."""
    s = {
        'SESSION_SERIALIZER': SERIALIZERS['pickle' if fmt == 'pickle' else 'json'],
        # Django 3.1/3.2 SessionBase.encode() writes the pre-3.1 format when this is 'sha1'
        # (it also makes login() compute _auth_user_hash with sha1).
        'DEFAULT_HASHING_ALGORITHM': 'sha1' if fmt == 'legacy' else 'sha256',
    }
    if engine:
        s['SESSION_ENGINE'] = SESSION_ENGINES[engine]
    if cache_alias:
        s['SESSION_CACHE_ALIAS'] = cache_alias
    if expiry_age is not None:
        s['SESSION_COOKIE_AGE'] = expiry_age
    return s


def use_table(table):
    """Point the Session model at a custom table name (a custom session model in real life)."""
    from django.contrib.sessions.models import Session
    Session._meta.db_table = table


def ensure_database(database):
    """Connect; create the database first if it does not exist yet (MySQL error 1049, or
    PostgreSQL's 'database "x" does not exist', which libpq reports without an SQLSTATE)."""
    from django.db import connection, OperationalError
    try:
        connection.ensure_connection()
        return
    except OperationalError as e:
        cause = e.__cause__
        if database['vendor'] == 'postgres':
            if not (cause is not None and re.search(r'database ".*" does not exist', str(cause))):
                raise
        elif not (cause is not None and getattr(cause, 'args', [None])[0] == 1049):
            raise
    if database['vendor'] == 'postgres':
        import psycopg2
        raw = psycopg2.connect(host=database['host'], port=database['port'], user=database['user'],
                               password=database['password'], dbname='postgres')
        try:
            raw.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            raw.cursor().execute('CREATE DATABASE "%s"' % database['database'].replace('"', '""'))
        finally:
            raw.close()
        connection.ensure_connection()
        return
    mysql = database
    import MySQLdb
    raw = MySQLdb.connect(host=mysql['host'], port=mysql['port'], user=mysql['user'],
                          passwd=mysql['password'], charset='utf8mb4')
    try:
        raw.cursor().execute('CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4'
                             % mysql['database'].replace('`', '``'))
    finally:
        raw.close()
    connection.ensure_connection()


def ensure_tables(table, with_auth):
    """Create django_session through Django's own migrations (and auth_user if users are stored)."""
    from django.core.management import call_command
    from django.db import connection
    # verbosity=0 keeps migrate's progress text off stdout, which carries our JSON.
    if with_auth:
        call_command('migrate', 'auth', verbosity=0, skip_checks=True, interactive=False)
    if table == 'django_session':
        call_command('migrate', 'sessions', verbosity=0, skip_checks=True, interactive=False)
    elif table not in connection.introspection.table_names():
        # A renamed table cannot come from the sessions migration (it always says
        # django_session); create it from the model, i.e. the same schema-editor DDL.
        from django.contrib.sessions.models import Session
        with connection.schema_editor() as editor:
            editor.create_model(Session)


# ---------------------------------------------------------------------------------------------
# Decoding the way Django does, plus telling "empty session" from "undecodable"


def django_decode(store, text):
    """(session dict, None) or (None, reason). Uses SessionBase.decode() itself.

    Django 3.2's decode() returns {} for a bad signature or corrupt data (and can even raise,
    e.g. binascii.Error from the legacy fallback on a signed value whose payload is broken),
    so a {} result is only believed if the value is a genuinely signed/hashed empty dict.
    """
    try:
        result = store.decode(text)
    except Exception as e:  # Django would propagate this: the request would crash
        return None, 'decode() raised %s: %s' % (type(e).__name__, e)
    if not isinstance(result, dict):
        return None, 'decoded to %s, not a dict' % type(result).__name__
    if result == {} and not genuinely_empty(store, text):
        return None, 'decode() returned {} (bad signature or corrupt data)'
    return result, None


def genuinely_empty(store, text):
    from django.core import signing
    from django.utils.crypto import constant_time_compare
    try:
        if signing.loads(text, salt=store.key_salt, serializer=store.serializer) == {}:
            return True
    except Exception:
        pass
    try:  # the pre-3.1 layout, checked with Django's own _hash()
        hash_, serialized = base64.b64decode(text.encode('ascii')).split(b':', 1)
        return (constant_time_compare(hash_.decode(), store._hash(serialized))
                and store.serializer().loads(serialized) == {})
    except Exception:
        return False


def shape_of(text):
    """Rough format of a session_data string, for dump output only."""
    if ':' not in text:
        return 'legacy'
    return 'signed-compressed' if text.startswith('.') else 'signed'


def jsonable(value):
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------------------------
# seed


class Seeder:
    def __init__(self, store_users):
        from django.test import RequestFactory
        self.factory = RequestFactory()
        self.store_users = store_users
        self.users = {}

    def user(self, uid):
        """The User instance to log in as `uid` (one per id, reused)."""
        if uid in self.users:
            return self.users[uid]
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import User
        # Deterministic password hash → _auth_user_hash depends only on (uid, secretKey, format).
        fields = {'username': 'user%s' % uid, 'password': make_password('password-%s' % uid, salt='sessionctl')}
        if self.store_users and re.fullmatch(r'[1-9][0-9]{0,17}', uid):
            user, _ = User.objects.update_or_create(id=int(uid), defaults=fields)
        else:
            # Non-numeric ids (or users not stored): an unsaved User whose pk is the string.
            # login() writes user._meta.pk.value_to_string(user) == str(pk); the only DB
            # write it would do is update_last_login, which write() disconnects for these.
            user = User(**fields)
            user.pk = uid
            user._sessionctl_unsaved = True
        self.users[uid] = user
        return user

    def write(self, spec):
        """One request through SessionMiddleware: anonymous data, then login(), then expiry."""
        from django.contrib.auth import login
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in
        from django.contrib.sessions.middleware import SessionMiddleware
        from django.http import HttpResponse

        user = self.user(spec['user']) if spec['user'] is not None else None

        def view(request):
            session = request.session
            # Keys set before login survive it (login() only cycles the key), so the extra data
            # comes first in the stored dict, like a cart filled before logging in.
            for k, v in spec['data'].items():
                session[k] = v
            if user is not None:
                login(request, user)
            if spec['expired']:
                session.set_expiry(EXPIRED_SET_EXPIRY)
            return HttpResponse('ok')

        request = self.factory.get('/')
        unsaved = user is not None and getattr(user, '_sessionctl_unsaved', False)
        if unsaved:
            user_logged_in.disconnect(update_last_login, dispatch_uid='update_last_login')
        try:
            SessionMiddleware(view)(request)  # process_request → view → process_response (save)
        finally:
            if unsaved:
                user_logged_in.connect(update_last_login, dispatch_uid='update_last_login')
        return request.session


def cmd_seed(obj):
    common = parse_common(obj)
    database = parse_database(obj)
    redis = parse_redis(obj)
    store_users = get(obj, 'storeUsers', bool, 'input', True)
    raw_sessions = get(obj, 'sessions', list, 'input')
    specs = [parse_session_spec(i, s) for i, s in enumerate(raw_sessions)]
    if redis is None:
        bad = [s['ref'] for s in specs if s['engine'] != 'db']
        if bad:
            raise InputError('sessions %s use a cache engine but "redis" is null' % bad)

    aliases = configure(common['secretKey'], database, redis,
                        [s['cache'] for s in specs if s['engine'] != 'db'])
    from django.contrib.sessions.models import Session
    from django.test.utils import override_settings

    use_table(common['table'])
    ensure_database(database)
    any_user = store_users and any(s['user'] is not None for s in specs)
    ensure_tables(common['table'], with_auth=any_user)

    seeder = Seeder(store_users)
    out = []
    started = time.monotonic()
    for spec in specs:
        alias = aliases.get(spec['cache']) if spec['engine'] != 'db' else None
        with override_settings(**format_settings(spec['format'], spec['engine'], alias, spec['expiryAge'])):
            session = seeder.write(spec)
            entry = {'ref': spec['ref'], 'engine': spec['engine'], 'format': spec['format'],
                     'user': spec['user'], 'expired': spec['expired'], 'key': session.session_key}
            notes = []
            if session.session_key is None:
                notes.append('empty session: Django does not store it')
            if spec['engine'] != 'db':
                entry['redisKey'] = session._cache.make_key(session.cache_key) if session.session_key else None
                # The cache receives the session dict itself (pickled by django-redis), never
                # the signed string, so "format" barely matters there.
                if spec['format'] == 'legacy':
                    notes.append('cache value is the pickled dict; legacy only made '
                                 '_auth_user_hash sha1 (40 hex)')
                elif spec['format'] == 'pickle':
                    notes.append('cache value is the pickled dict; SESSION_SERIALIZER does not apply')
            entry['notes'] = notes
            out.append((entry, alias))

    # Read back what actually got stored.
    db_keys = [e['key'] for e, _ in out if e['engine'] != 'cache' and e['key']]
    rows = {}
    for i in range(0, len(db_keys), 500):
        for r in Session.objects.filter(session_key__in=db_keys[i:i + 500]):
            rows[r.session_key] = r
    from django.core.cache import caches
    from django.utils import timezone
    now = timezone.now()
    for entry, alias in out:
        if entry['engine'] != 'cache' and entry['key']:
            row = rows.get(entry['key'])
            entry['sessionData'] = row.session_data if row else None
            entry['expireDate'] = row.expire_date.isoformat() if row else None
            if row and entry['expired'] and row.expire_date >= now:
                entry['notes'].append('expected a past expire_date but Django stored a future one')
        if entry.get('redisKey'):
            client = caches[alias].client.get_client(write=False)
            pttl = client.pttl(entry['redisKey'])
            if pttl == -2:  # key does not exist
                entry['notes'].append('not in Redis: django-redis deletes instead of storing a '
                                      'non-positive timeout (expired session)')
                entry['redisKey'] = None
            else:
                entry['redisPttl'] = pttl
                raw = client.get(entry['redisKey'])
                entry['redisValueBase64'] = base64.b64encode(raw).decode('ascii')
        if not entry['notes']:
            del entry['notes']
    return {'django': django.get_version(), 'seconds': round(time.monotonic() - started, 3),
            'sessions': [e for e, _ in out]}


# ---------------------------------------------------------------------------------------------
# answer / dump


def db_sessions(state, store, table):
    """Yield (row, decoded-or-None, undecodable-reason, is_live) for the rows in `state`."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    use_table(table)
    qs = Session.objects.all()
    now = timezone.now()
    if state == 'live':
        qs = qs.filter(expire_date__gt=now)  # exactly what _get_session_from_db() filters on
    elif state == 'expired':
        qs = qs.exclude(expire_date__gt=now)
    for row in qs.order_by('session_key').iterator():
        data, reason = django_decode(store, row.session_data)
        yield row, data, reason, row.expire_date > now


def cache_sessions(cache, key_prefix, other_prefix=None):
    """Yield (session_key, redis_key, decoded-or-None, reason, pttl) for one cache key family.

    SCANs '<prefix>:<version>:<key_prefix>*' and loads each through cache.get() (django-redis
    decompress + unpickle). Keys of `other_prefix` (cached_db when scanning cache) are skipped.
    """
    client = cache.client.get_client(write=False)
    base = cache.make_key(key_prefix)
    pattern = cache.client.make_pattern(key_prefix + '*')
    skip = cache.make_key(other_prefix) if other_prefix else None
    for raw_key in sorted(client.scan_iter(match=pattern, count=1000)):
        redis_key = raw_key.decode('utf-8', 'surrogateescape')
        if skip and redis_key.startswith(skip):
            continue
        session_key = redis_key[len(base):]
        # SessionBase._validate_session_key: Django never looks up keys shorter than 8 chars.
        if len(session_key) < 8:
            continue
        try:
            data = cache.get(key_prefix + session_key)
            reason = None if isinstance(data, dict) else 'cached value is %s, not a dict' % type(data).__name__
        except Exception as e:
            data, reason = None, 'cache.get() raised %s: %s' % (type(e).__name__, e)
        if reason:
            data = None
        yield session_key, redis_key, data, reason, client.pttl(raw_key)


def parse_lookup(obj, need_user):
    common = parse_common(obj)
    engine = get(obj, 'engine', str, 'input', 'db')
    if engine not in SESSION_ENGINES:
        raise InputError('"engine" must be one of %s' % sorted(SESSION_ENGINES))
    state = get(obj, 'state', str, 'input', 'live')
    if state not in ('live', 'expired', 'all'):
        raise InputError('"state" must be live, expired or all')
    serializer = get(obj, 'serializer', str, 'input', 'json')
    if serializer not in SERIALIZERS:
        raise InputError('"serializer" must be json or pickle (the SESSION_SERIALIZER Django decodes with)')
    database = parse_database(obj, required=engine != 'cache')
    redis = parse_redis(obj)
    if engine == 'cache' and redis is None:
        raise InputError('engine "cache" needs "redis"')
    user = parse_user(obj.get('user'), 'input')
    if need_user and user is None:
        raise InputError('missing "user"')
    cache_settings = parse_cache_settings(obj, 'input')
    aliases = configure(common['secretKey'], database, redis, [cache_settings])
    from django.core.cache import caches
    cache = caches[aliases[cache_settings]] if redis is not None else None
    return dict(common, engine=engine, state=state, serializer=serializer, database=database,
                redis=redis, user=user, cache=cache)


def make_store(engine, serializer):
    from importlib import import_module
    from django.contrib.sessions.backends import db
    from django.test.utils import override_settings
    with override_settings(SESSION_SERIALIZER=SERIALIZERS[serializer]):
        # Any store class works for decode(): all are named SessionStore (same key_salt);
        # the db one does not need a cache. self.serializer is fixed at construction.
        cls = import_module(SESSION_ENGINES[engine]).SessionStore if engine == 'db' else db.SessionStore
        return cls()


def cmd_answer(obj):
    q = parse_lookup(obj, need_user=True)
    started = time.monotonic()
    keys, undecodable, result = [], 0, {}
    if q['engine'] in ('db', 'cached_db'):
        store = make_store('db', q['serializer'])
        for row, data, reason, _live in db_sessions(q['state'], store, q['table']):
            if data is None:
                undecodable += 1
            elif data.get('_auth_user_id') == q['user']:
                keys.append(row.session_key)
        if q['engine'] == 'cached_db' and q['cache'] is not None:
            # cached_db's load() reads the cache first: a session still served from Redis is
            # alive for Django even if its row is gone. Redis holds only unexpired entries.
            cache_keys, cache_undecodable = [], 0
            if q['state'] != 'expired':
                for skey, _rk, data, reason, _pttl in cache_sessions(q['cache'], CACHED_DB_KEY_PREFIX):
                    if data is None:
                        cache_undecodable += 1
                    elif data.get('_auth_user_id') == q['user']:
                        cache_keys.append(skey)
            result.update(cacheKeys=sorted(cache_keys), cacheUndecodable=cache_undecodable)
    else:
        if q['state'] != 'expired':  # Redis drops expired cache sessions itself (TTL)
            for skey, _rk, data, reason, _pttl in cache_sessions(q['cache'], CACHE_KEY_PREFIX, CACHED_DB_KEY_PREFIX):
                if data is None:
                    undecodable += 1
                elif data.get('_auth_user_id') == q['user']:
                    keys.append(skey)
    return dict({'keys': sorted(keys), 'undecodable': undecodable}, **result,
                seconds=round(time.monotonic() - started, 3))


def cmd_dump(obj):
    q = parse_lookup(obj, need_user=False)
    out = {'db': [], 'cache': {}}
    if q['database'] is not None:
        from django.db import connection
        if q['table'] in connection.introspection.table_names():
            store = make_store('db', q['serializer'])
            for row, data, reason, live in db_sessions(q['state'], store, q['table']):
                out['db'].append({
                    'key': row.session_key, 'state': 'live' if live else 'expired',
                    'expireDate': row.expire_date.isoformat(), 'shape': shape_of(row.session_data),
                    'userId': jsonable(data.get('_auth_user_id')) if data else None,
                    'undecodable': reason, 'data': jsonable(data), 'sessionData': row.session_data,
                })
        else:
            out['db'] = None
    if q['cache'] is not None:
        for name, prefix, other in (('cache', CACHE_KEY_PREFIX, CACHED_DB_KEY_PREFIX),
                                    ('cached_db', CACHED_DB_KEY_PREFIX, None)):
            out['cache'][name] = [{
                'key': skey, 'redisKey': rk, 'pttl': pttl,
                'userId': jsonable(data.get('_auth_user_id')) if data else None,
                'undecodable': reason, 'data': jsonable(data),
            } for skey, rk, data, reason, pttl in cache_sessions(q['cache'], prefix, other)]
    return out


# ---------------------------------------------------------------------------------------------
# formats


def cmd_formats(obj):
    """One session_data string per format, encoded by SessionBase.encode() itself."""
    common = parse_common(obj)
    user = parse_user(obj.get('user', '42'), 'input') or '42'
    configure(common['secretKey'])
    from django.contrib.auth import login
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User, update_last_login
    from django.contrib.auth.signals import user_logged_in
    from django.contrib.sessions.backends import db, signed_cookies
    from django.test import RequestFactory
    from django.test.utils import override_settings
    from django.utils import baseconv

    # No database here: log an unsaved user in on a signed_cookies store (its create()/cycle_key()
    # touch no storage) just to obtain the dict login() builds; encode with the db store.
    user_logged_in.disconnect(update_last_login, dispatch_uid='update_last_login')
    u = User(username='user%s' % user, password=make_password('password-%s' % user, salt='sessionctl'))
    u.pk = user

    def login_dict():
        request = RequestFactory().get('/')
        request.session = signed_cookies.SessionStore()
        login(request, u)
        return dict(request.session.items())

    out = {}
    cases = [('signedSmall', 'signed', {'_auth_user_id': user}),
             ('signedCompressed', 'signed', None),
             ('legacy', 'legacy', None),
             ('pickle', 'pickle', None)]
    for name, fmt, fixed in cases:
        with override_settings(**format_settings(fmt)):
            session = fixed if fixed is not None else login_dict()
            text = db.SessionStore().encode(session)
            entry = {'format': fmt, 'sessionData': text, 'session': session}
            if fmt != 'legacy':
                entry['compressed'] = text.startswith('.')  # signing.dumps' zlib flag
                # Signing time (the middle field), decoded with Django's own base62.
                entry['timestamp'] = baseconv.base62.decode(text.rsplit(':', 2)[1])
            out[name] = entry
    return {'django': django.get_version(), 'secretKey': common['secretKey'],
            'salt': db.SessionStore().key_salt, 'formats': out}


# ---------------------------------------------------------------------------------------------

COMMANDS = {'seed': cmd_seed, 'answer': cmd_answer, 'dump': cmd_dump, 'formats': cmd_formats}


def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        fail('usage: %s {%s} < input.json' % (argv[0], '|'.join(COMMANDS)), EXIT_BAD_INPUT)
    try:
        obj = json.load(sys.stdin)
    except ValueError as e:
        fail('stdin is not valid JSON: %s' % e, EXIT_BAD_INPUT)
    try:
        result = COMMANDS[argv[1]](obj)
    except InputError as e:
        fail(str(e), EXIT_BAD_INPUT)
    except Exception as e:
        import traceback
        fail('%s: %s' % (type(e).__name__, e), EXIT_FAILURE,
             traceback=traceback.format_exc().splitlines()[-6:])
    sys.stdout.write(json.dumps(result, indent=1) + '\n')


if __name__ == '__main__':
    main(sys.argv)
