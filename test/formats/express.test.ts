import assert from 'node:assert/strict'

import {createExpressCodec} from '../../src/formats/express.js'

const codec = createExpressCodec()
// As express-session 1.19 + passport 0.7 store it (docs/session-formats.md §2.1).
const stored = '{"cookie":{"originalMaxAge":3600000,"expires":"2026-11-26T20:46:39.140Z","httpOnly":true,"path":"/"},"passport":{"user":42}}'

describe('express codec', () => {
  it('reads passport.user and cookie.expires', () => {
    const decoded = codec.decode(Buffer.from(stored))
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, '42')
    assert.equal(decoded.expiresAt?.toISOString(), '2026-11-26T20:46:39.140Z')
  })

  it('treats a numeric 42 and a string "42" as the same user, and 4.2 or {id} as others', () => {
    const user = (u?: unknown): null | string => (codec.decode(Buffer.from(JSON.stringify({passport: {user: u}}))) as {userId: null | string}).userId
    assert.equal(user(42), '42')
    assert.equal(user('42'), '42')
    assert.equal(user(4.2), '4.2')
    assert.equal(user({id: 42}), null)
    assert.equal(user(), null)
  })

  it('reads another user path when told to', () => {
    const c = createExpressCodec({userPath: ['passport', 'user', 'id']})
    assert.equal((c.decode(Buffer.from('{"passport":{"user":{"id":"u-1"}}}')) as {userId: string}).userId, 'u-1')
  })

  it('has no expiry for browser-session cookies', () => {
    const decoded = codec.decode(Buffer.from('{"cookie":{"expires":null},"passport":{"user":1}}'))
    assert.ok(decoded.ok)
    assert.equal(decoded.expiresAt, undefined)
  })

  it('reads UTF-8 content', () => {
    const decoded = codec.decode(Buffer.from('{"name":"Zoë","passport":{"user":"Zoë"}}'))
    assert.equal((decoded as {userId: string}).userId, 'Zoë')
  })

  it('reports what is not a session', () => {
    assert.deepEqual(codec.decode(Buffer.from('not json {')), {ok: false, reason: 'not JSON'})
    assert.deepEqual(codec.decode(Buffer.from('[1,2]')), {ok: false, reason: 'not a session dict'})
    assert.deepEqual(codec.decode(Buffer.from('')), {ok: false, reason: 'empty'})
  })
})
