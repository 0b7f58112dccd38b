import session from 'express-session'
import assert from 'node:assert/strict'
import {
  createServer, get, type IncomingMessage, type ServerResponse,
} from 'node:http'
import {type AddressInfo} from 'node:net'

import {createExpressCodec, EXPRESS_USER_PATH} from '../../src/frameworks/express.js'

const codec = createExpressCodec()
const HOUR = 3_600_000
// As express-session 1.19 + passport 0.7 store it (docs/session-formats.md §2.1).
const documented = '{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-26T20:46:39.140Z","httpOnly":true,"path":"/"},"passport":{"user":42}}'

const decode = (value: string): ReturnType<typeof codec.decode> => codec.decode(Buffer.from(value))
const userOf = (value: string): null | string | undefined => {
  const decoded = decode(value)
  return decoded.ok ? decoded.userId : undefined
}

/**
 * What the real express-session middleware hands its store after a passport login: the request
 * runs through `session()` on a real HTTP server, and MemoryStore keeps `JSON.stringify(session)`,
 * the same text connect-redis and express-mysql-session write.
 */
async function storedByExpressSession(fill: Record<string, unknown>, cookie: session.CookieOptions): Promise<string> {
  const store = new session.MemoryStore()
  const middleware = session({
    cookie, resave: false, saveUninitialized: false, secret: 'keyboard cat', store,
  }) as unknown as (req: IncomingMessage, res: ServerResponse, next: () => void) => void
  const server = createServer((req, res) => middleware(req, res, () => {
    // passport's SessionManager.logIn: req.session[key].user = serializeUser(user)
    Object.assign((req as unknown as {session: Record<string, unknown>}).session, fill)
    res.end('ok')
  }))
  await new Promise<void>(resolve => {
    server.listen(0, '127.0.0.1', resolve)
  })
  try {
    const cookies = await new Promise<string[]>((resolve, reject) => {
      get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, response => {
        response.resume()
        response.on('end', () => resolve(response.headers['set-cookie'] ?? []))
      }).on('error', reject)
    })
    assert.match(cookies[0] ?? '', /^connect\.sid=s%3A/)
  } finally {
    server.closeAllConnections()
    await new Promise(resolve => {
      server.close(resolve)
    })
  }

  const values = Object.values((store as unknown as {sessions: Record<string, string>}).sessions)
  assert.equal(values.length, 1)
  return values[0]
}

describe('express codec', () => {
  it('reads what express-session stores after a passport login', async () => {
    const before = Date.now()
    const stored = await storedByExpressSession({name: 'Zoë', passport: {user: 42}}, {httpOnly: true, maxAge: HOUR})
    const decoded = codec.decode(Buffer.from(stored, 'utf8'))
    assert.ok(decoded.ok, JSON.stringify(decoded))
    assert.equal(decoded.userId, '42')
    assert.equal(decoded.signature, 'unchecked')
    assert.equal(decoded.variant, 'json')
    assert.equal(decoded.data.name, 'Zoë')
    const expires = decoded.expiresAt!.getTime()
    assert.ok(expires >= before + HOUR && expires <= Date.now() + HOUR, decoded.expiresAt!.toISOString())
    assert.deepEqual(decoded.data.cookie, {
      expires: decoded.expiresAt!.toISOString(), httpOnly: true, originalMaxAge: HOUR, path: '/',
    })
  })

  it('reads the documented stored document', () => {
    const decoded = decode(documented)
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, '42')
    assert.equal(decoded.expiresAt?.toISOString(), '2026-11-26T20:46:39.140Z')
  })

  it('treats a numeric 42 and a string "42" as the same user, and other shapes as no user', () => {
    const user = (u?: unknown): null | string | undefined => userOf(JSON.stringify({passport: {user: u}}))
    assert.equal(user(42), '42')
    assert.equal(user('42'), '42')
    assert.equal(user('a3f1c2d4-uuid'), 'a3f1c2d4-uuid')
    assert.equal(user(4.2), '4.2')
    assert.equal(user({id: 42}), null)
    assert.equal(user(true), null)
    assert.equal(user(), null)
    assert.equal(userOf('{"passport":{}}'), null)
    assert.equal(userOf('{"cookie":{"path":"/"}}'), null)
    assert.deepEqual(EXPRESS_USER_PATH, ['passport', 'user'])
  })

  it('reads another user path when told to', () => {
    const custom = createExpressCodec({userPath: ['passport', 'user', 'id']})
    const decoded = custom.decode(Buffer.from('{"passport":{"user":{"id":"u-1","role":"admin"}}}'))
    assert.equal(decoded.ok && decoded.userId, 'u-1')
    // Own properties only: a path cannot reach into prototypes.
    const proto = createExpressCodec({userPath: ['constructor', 'name']}).decode(Buffer.from('{}'))
    assert.equal(proto.ok && proto.userId, null)
  })

  it('has no expiry for browser-session cookies and unparseable dates', async () => {
    const stored = await storedByExpressSession({passport: {user: 7}}, {httpOnly: true})
    assert.ok(!stored.includes('"expires":"'), stored)
    for (const value of [stored, '{"cookie":{"expires":null},"passport":{"user":1}}', '{"cookie":{"expires":"soon"}}', '{"cookie":{"expires":1764189999000}}', '{}']) {
      const decoded = decode(value)
      assert.ok(decoded.ok, value)
      assert.equal(decoded.expiresAt, undefined, value)
    }
  })

  it('reads UTF-8 content', () => {
    const decoded = codec.decode(Buffer.from('{"name":"Zoë 🍪","passport":{"user":"Zoë"}}', 'utf8'))
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, 'Zoë')
    assert.equal(decoded.data.name, 'Zoë 🍪')
  })

  it('reports what is not a session', () => {
    assert.deepEqual(decode('not json {'), {ok: false, reason: 'not JSON'})
    assert.deepEqual(decode('{"passport":{"user":42}'), {ok: false, reason: 'not JSON'})
    assert.deepEqual(codec.decode(Buffer.from([0x80, 0x04, 0x95, 0xFF, 0x00])), {ok: false, reason: 'not JSON'})
    for (const value of ['[1,2]', '42', '"42"', 'null', 'true']) assert.deepEqual(decode(value), {ok: false, reason: 'not a session dict'}, value)
    assert.deepEqual(decode(''), {ok: false, reason: 'empty'})
  })

  it('reads values over maxPayloadBytes without parsing them into objects: user and expiry, exactly', () => {
    const small = createExpressCodec({maxPayloadBytes: 64})
    assert.equal(small.decode(Buffer.from('{"passport":{"user":42}}')).ok, true)
    const big = JSON.stringify({cookie: {expires: '2031-01-02T03:04:05.000Z'}, pad: 'x'.repeat(64), passport: {user: 42}})
    assert.deepEqual(small.decode(Buffer.from(big)), {
      data: {}, expiresAt: new Date('2031-01-02T03:04:05.000Z'), ok: true, signature: 'unchecked', userId: '42', variant: 'json',
    })
    assert.deepEqual(small.decode(Buffer.from(`${big}x`)), {ok: false, reason: 'not JSON'})
  })
})
