#!/usr/bin/python3
"""
Real Flask-Session 0.3.2 (Debian's python3-flask-session, with Flask 2.2, Flask-Login 0.6 and
Flask-SQLAlchemy 3.0) as the writer and the oracle of the Flask integration tests.

    /usr/bin/python3 test/flask/oracle.py <op>   < params.json   > answer.json

One operation per process, its parameters as one JSON object on stdin, one JSON document on stdout;
on failure one line on stderr and exit 1. Operations:

- migrate  creates the table Flask-Session 0.3.2 maps but never creates (`fresh`: drop it first)
- write    a real Flask app with Flask-Session writes sessions through Flask's test client: each
           session is one request to a view that logs a user in through Flask-Login, sets a raw
           `_user_id`, puts extra values, chooses permanent or not; answers the uuid4 sids
- raw      writes values directly, as newer Flask-Session versions store them (msgpack or JSON in
           Redis under `session:<sid>` with a TTL) or as rows with a NULL / past expiry (SQL)
- read     for each sid, Flask-Session itself opens the session from that cookie (what a request
           carrying it would see) and Flask-Login says who is logged in
- ids      what is in the store: Redis keys under the prefix (with TTLs), or the table's rows

Stores: {"store": "redis", "redis": {host, port, db}} or {"store": "sql", "mysql": {host, port,
user, password, database}, "table": "sessions"} (or "postgres": {...} instead of "mysql": PostgreSQL
through psycopg2). `serializer` ('pickle', Flask-Session 0.3.2's
own; 'msgpack' or 'json', the formats of Flask-Session >= 0.7; 'any' reads all three) swaps the
session interface's serializer, so the same real app writes and reads those formats too.
"""
import base64
import contextvars
import datetime as dt
import json
import sys
import uuid
import warnings

warnings.simplefilter('ignore')  # Flask 2.2 deprecates app.session_cookie_name, which 0.3.2 reads

import msgpack  # noqa: E402
import redis as redis_py  # noqa: E402
import sqlalchemy  # noqa: E402
from flask import Flask, jsonify, request, session  # noqa: E402
from flask_login import LoginManager, UserMixin, current_user, login_user  # noqa: E402
from flask_session import Session  # noqa: E402

COOKIE = 'session'
LIFETIME = dt.timedelta(days=31)


class AnyUser(UserMixin):
    """A user whose get_id() returns exactly the id it was made with (a str, as Flask-Login wants)."""

    def __init__(self, user_id):
        self.id = user_id

    def get_id(self):
        return self.id


class MsgpackSerializer:
    @staticmethod
    def dumps(value):
        return msgpack.packb(value, use_bin_type=True)

    @staticmethod
    def loads(raw):
        return msgpack.unpackb(raw, raw=False)


class JsonSerializer:
    @staticmethod
    def dumps(value):
        return json.dumps(value, separators=(',', ':')).encode()

    @staticmethod
    def loads(raw):
        return json.loads(raw)


class AnySerializer:
    """Reads what any version left: 0.3.2's pickle, else msgpack, else JSON (writes msgpack)."""

    @staticmethod
    def dumps(value):
        return MsgpackSerializer.dumps(value)

    @staticmethod
    def loads(raw):
        import pickle
        if raw[:1] == b'\x80' and raw[1:2] in (b'\x02', b'\x03', b'\x04', b'\x05'):  # PROTO n; msgpack's 0x80 is {} alone
            return pickle.loads(raw)
        if raw[:1] in (b'{', b'['):
            return JsonSerializer.loads(raw)
        return MsgpackSerializer.loads(raw)


SERIALIZERS = {'msgpack': MsgpackSerializer, 'json': JsonSerializer, 'any': AnySerializer}


def from_json(value):
    """{"__int": "…"} is an int beyond 2**53; everything else crosses as is."""
    if isinstance(value, dict):
        if set(value) == {'__int'}:
            return int(value['__int'])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def to_json(value):
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2 ** 53 - 1 else {'__int': str(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {'__bytes': base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (dt.datetime, dt.date)):
        return {'__datetime': value.isoformat()}
    return {'__repr': repr(value)}


def mysql_uri(m):
    from urllib.parse import quote
    user = quote(m.get('user') or 'root', safe='')
    password = m.get('password') or ''
    auth = user + (':' + quote(password, safe='') if password else '')
    return 'mysql+mysqldb://%s@%s:%d/%s?charset=utf8mb4' % (auth, m.get('host', '127.0.0.1'), int(m.get('port', 3306)), m['database'])


def postgres_uri(p):
    from urllib.parse import quote
    user = quote(p.get('user') or 'postgres', safe='')
    password = p.get('password') or ''
    auth = user + (':' + quote(password, safe='') if password else '')
    return 'postgresql+psycopg2://%s@%s:%d/%s' % (auth, p.get('host', '127.0.0.1'), int(p.get('port', 5432)), p['database'])


def db_uri(params):
    """SQLALCHEMY_DATABASE_URI: PostgreSQL through psycopg2 when `postgres` is given, else MariaDB through mysqlclient."""
    return postgres_uri(params['postgres']) if 'postgres' in params else mysql_uri(params['mysql'])


def q(params, name):
    """An identifier quoted for the store's dialect."""
    return '"%s"' % name.replace('"', '""') if 'postgres' in params else '`%s`' % name


def redis_client(params):
    r = params.get('redis') or {}
    return redis_py.Redis(host=r.get('host', '127.0.0.1'), port=int(r.get('port', 6379)), db=int(r.get('db', 0)),
                          password=r.get('password'))


def sql_engine(params):
    return sqlalchemy.create_engine(db_uri(params), poolclass=sqlalchemy.pool.NullPool)


def key_prefix(params):
    return params.get('keyPrefix', 'session:')


def table_name(params):
    return params.get('table', 'sessions')


def make_app(params, config_permanent=True):
    """The application: Flask + Flask-Session (+ Flask-SQLAlchemy) + Flask-Login, and two views."""
    app = Flask('sessionctl_oracle')
    app.config.update(
        SECRET_KEY='sessionctl-oracle-secret',
        SESSION_PERMANENT=config_permanent,
        SESSION_KEY_PREFIX=key_prefix(params),
        PERMANENT_SESSION_LIFETIME=LIFETIME,
        TESTING=True,
    )
    store = params.get('store', 'redis')
    if store == 'redis':
        app.config.update(SESSION_TYPE='redis', SESSION_REDIS=redis_client(params))
    elif store == 'sql':
        from flask_sqlalchemy import SQLAlchemy
        app.config.update(
            SESSION_TYPE='sqlalchemy',
            SQLALCHEMY_DATABASE_URI=db_uri(params),
            SQLALCHEMY_ENGINE_OPTIONS={'poolclass': sqlalchemy.pool.NullPool},
            SESSION_SQLALCHEMY_TABLE=table_name(params),
        )
        app.config['SESSION_SQLALCHEMY'] = SQLAlchemy(app)
    else:
        raise ValueError('unknown store %r' % store)
    Session(app)
    serializer = params.get('serializer', 'pickle')
    if serializer != 'pickle':
        app.session_interface.serializer = SERIALIZERS[serializer]

    login = LoginManager(app)
    login.user_loader(lambda user_id: AnyUser(user_id))

    @app.route('/write', methods=['POST'])
    def write():
        spec = request.get_json()
        if spec.get('user') is not None:
            login_user(AnyUser(from_json(spec['user'])), remember=bool(spec.get('remember')))
        if 'rawUserId' in spec:
            session['_user_id'] = from_json(spec['rawUserId'])
        for k, v in (spec.get('attrs') or {}).items():
            session[k] = from_json(v)
        if 'permanent' in spec:
            session.permanent = bool(spec['permanent'])
        if spec.get('empty'):
            session.clear()
        session.modified = True
        return jsonify(sid=session.sid)

    return app


def cookie_sid(client):
    cookie = client.get_cookie('localhost', COOKIE) if hasattr(client, 'get_cookie') else None
    if cookie is not None:
        return cookie.value
    for c in client.cookie_jar:
        if c.name == COOKIE:
            return c.value
    return None


# ---------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------

def op_migrate(params):
    """The columns Flask-Session 0.3.2's model maps, as MariaDB shows the table its create_all() makes.

    PostgreSQL: the model's own table, created by SQLAlchemy from Flask-Session's model (what
    db.create_all() makes); answers its columns (name: 'type NULL|NOT NULL', format_type's spelling)."""
    if 'postgres' in params:
        return migrate_postgres(params)
    table = table_name(params)
    engine = sql_engine(params)
    with engine.begin() as c:
        if params.get('fresh'):
            c.exec_driver_sql('DROP TABLE IF EXISTS `%s`' % table)
        c.exec_driver_sql(
            'CREATE TABLE IF NOT EXISTS `%s` (`id` int(11) NOT NULL AUTO_INCREMENT, `session_id` varchar(255) DEFAULT NULL, '
            '`data` blob DEFAULT NULL, `expiry` datetime DEFAULT NULL, PRIMARY KEY (`id`), UNIQUE KEY `session_id` (`session_id`)) '
            'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4' % table)
        ddl = c.exec_driver_sql('SHOW CREATE TABLE `%s`' % table).fetchone()[1]
    return {'table': table, 'ddl': ddl}


def migrate_postgres(params):
    table = table_name(params)
    app = make_app(params)
    model = app.session_interface.sql_session_model
    with app.app_context():
        engine = app.session_interface.db.engine
        if params.get('fresh'):
            model.__table__.drop(bind=engine, checkfirst=True)
        model.__table__.create(bind=engine, checkfirst=True)
        with engine.connect() as c:
            columns = c.exec_driver_sql(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (q(params, table),)).fetchall()
            indexes = [r[0] for r in c.exec_driver_sql(
                'SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s ORDER BY indexname', (table,))]
    return {'table': table, 'columns': {n: '%s %s' % (t, 'NOT NULL' if notnull else 'NULL') for n, t, notnull in columns}, 'indexes': indexes}


def set_sql_expiry(params, sid, expires_in):
    """Direct SQL, past Flask-Session: expiry = now + expires_in seconds (naive UTC), or NULL."""
    expiry = None if expires_in is None else (dt.datetime.utcnow() + dt.timedelta(seconds=expires_in)).replace(microsecond=0)
    with sql_engine(params).begin() as c:
        n = c.exec_driver_sql('UPDATE %s SET expiry = %%s WHERE session_id = %%s' % q(params, table_name(params)),
                              (expiry, key_prefix(params) + sid)).rowcount
    if n != 1:
        raise RuntimeError('no row for session %s' % sid)


def op_write(params):
    ids = []
    for i, spec in enumerate(params.get('sessions') or []):
        app = make_app(params, config_permanent=spec.get('configPermanent', True))
        with app.test_client() as client:
            response = client.post('/write', json=spec)
            if response.status_code != 200:
                raise RuntimeError('session %d: the view answered %d: %s' % (i, response.status_code, response.get_data(as_text=True)[:300]))
            sid = response.get_json()['sid']
            if not spec.get('empty') and cookie_sid(client) != sid:
                raise RuntimeError('session %d: the cookie does not carry the sid %s' % (i, sid))
        if 'expiresInSeconds' in spec:
            if params.get('store') != 'sql':
                raise ValueError('expiresInSeconds needs the sql store (age a Redis key with EXPIRE)')
            set_sql_expiry(params, sid, spec['expiresInSeconds'])
        ids.append(sid)
    return {'ids': ids}


def op_raw(params):
    """Values stored directly, without a Flask request: what Flask-Session >= 0.7 leaves in the store."""
    ids = []
    prefix = key_prefix(params)
    for spec in params.get('sessions') or []:
        sid = spec.get('sid') or str(uuid.uuid4())
        data = from_json(spec.get('data') or {})
        encoding = spec.get('encoding', 'msgpack')
        if encoding == 'pickle':
            import pickle
            raw = pickle.dumps(data, protocol=4)
        elif encoding == 'msgpack':
            raw = msgpack.packb(data, use_bin_type=True)
        elif encoding == 'json':
            raw = json.dumps(data, separators=(',', ':')).encode()
        elif encoding == 'bytes':
            raw = base64.b64decode(spec['valueBase64'])
        else:
            raise ValueError('unknown encoding %r' % encoding)
        if params.get('store', 'redis') == 'redis':
            ttl = int(spec.get('ttlSeconds', int(LIFETIME.total_seconds())))
            redis_client(params).set(prefix + sid, raw, ex=ttl if ttl > 0 else None)
        else:
            expires_in = spec.get('expiresInSeconds', int(LIFETIME.total_seconds()))
            expiry = None if expires_in is None else (dt.datetime.utcnow() + dt.timedelta(seconds=expires_in)).replace(microsecond=0)
            with sql_engine(params).begin() as c:
                c.exec_driver_sql('INSERT INTO %s (session_id, data, expiry) VALUES (%%s, %%s, %%s)' % q(params, table_name(params)),
                                  (prefix + sid, raw, expiry))
        ids.append(sid)
    return {'ids': ids}


def stored(params, sid):
    if params.get('store', 'redis') == 'redis':
        return redis_client(params).exists(key_prefix(params) + sid) == 1
    with sql_engine(params).connect() as c:
        return c.exec_driver_sql('SELECT 1 FROM %s WHERE session_id = %%s' % q(params, table_name(params)), (key_prefix(params) + sid,)).fetchone() is not None


class Tracking:
    """The interface's serializer, noting whether Flask-Session got a stored value and decoded it."""

    def __init__(self, inner):
        self.inner = inner
        self.loaded = False
        self.error = None

    def dumps(self, value):
        return self.inner.dumps(value)

    def loads(self, raw):
        try:
            value = self.inner.loads(raw)
        except Exception as e:
            self.error = '%s: %s' % (type(e).__name__, e)
            raise
        self.loaded = True
        return value


def op_read(params):
    """Flask-Session's open_session for a request carrying each sid's cookie, and Flask-Login's current_user.

    Reading has Flask-Session's own side effect: an SQL row whose expiry has passed is deleted.
    A NULL expiry makes 0.3.2 raise TypeError (None <= datetime): reported as `error`, not loaded.
    `loaded`: the store had a value for the sid and the serializer decoded it (a sid with nothing
    stored opens as a new session, {'_permanent': True}, which is not loaded). Nothing is saved (no
    response is processed)."""
    app = make_app(params)
    inner = app.session_interface.serializer
    answers = []
    for sid in params.get('ids') or []:
        was_stored = stored(params, sid)
        answer = {'id': sid, 'stored': was_stored, 'loaded': False, 'user': None, 'userType': None, 'rawUserId': None,
                  'data': None, 'error': None}
        tracking = app.session_interface.serializer = Tracking(inner)

        def request_with_cookie(answer=answer, sid=sid, tracking=tracking):
            try:
                with app.test_request_context('/', headers={'Cookie': '%s=%s' % (COOKIE, sid)}):
                    data = dict(session)
                    answer['loaded'] = tracking.loaded and session.sid == sid
                    answer['error'] = tracking.error
                    answer['data'] = to_json(data)
                    if '_user_id' in data:
                        answer['rawUserId'] = to_json(data['_user_id'])
                        answer['userType'] = type(data['_user_id']).__name__
                    if current_user.is_authenticated:
                        answer['user'] = str(current_user.get_id())
            except Exception as e:  # what the request would have died of
                answer['error'] = '%s: %s' % (type(e).__name__, e)

        # Each request in a copy of the context variables: a request that died while opening its
        # session (0.3.2 over a NULL expiry) leaves its app context pushed, and the next requests
        # would share its `g`, and so Flask-Login's cached user.
        contextvars.copy_context().run(request_with_cookie)
        answers.append(answer)
    return {'sessions': answers}


def op_ids(params):
    prefix = key_prefix(params)
    if params.get('store', 'redis') == 'redis':
        client = redis_client(params)
        keys = []
        for key in client.scan_iter(match=prefix.replace('[', '\\[') + '*', count=1000):
            keys.append({'key': key.decode('utf-8', 'replace'), 'id': key[len(prefix):].decode('utf-8', 'replace'), 'ttl': client.ttl(key)})
        keys.sort(key=lambda k: k['key'])
        return {'ids': [k['id'] for k in keys], 'keys': keys}
    rows = []
    with sql_engine(params).connect() as c:
        for session_id, expiry, size in c.exec_driver_sql('SELECT session_id, expiry, LENGTH(data) FROM %s ORDER BY session_id' % q(params, table_name(params))):
            rows.append({'sessionId': session_id, 'id': session_id[len(prefix):] if session_id.startswith(prefix) else None,
                         'expiry': None if expiry is None else expiry.isoformat(), 'size': size})
    return {'ids': [r['id'] for r in rows], 'rows': rows}


OPS = {'migrate': op_migrate, 'write': op_write, 'raw': op_raw, 'read': op_read, 'ids': op_ids}


def main():
    op = sys.argv[1] if len(sys.argv) > 1 else ''
    try:
        raw = sys.stdin.read()
        params = json.loads(raw) if raw.strip() else {}
        if not isinstance(params, dict):
            raise ValueError('the parameters must be a JSON object')
        if op not in OPS:
            raise ValueError('unknown operation %r' % op)
        result = OPS[op](params)
    except Exception as e:
        tb = e.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        where = '%s:%d' % (tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1], tb.tb_lineno)
        sys.stderr.write('oracle %s: %s: %s (%s)\n' % (op or '?', type(e).__name__, str(e).replace('\n', ' '), where))
        sys.exit(1)
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    main()
