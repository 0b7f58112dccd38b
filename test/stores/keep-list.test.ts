/**
 * --except's KeepList with a framework's key forms: the cookie's session id keeps the stored key
 * it stands for (a Rails public id → `2::<sha256>`, a Flask sid → `session:<sid>`), counts as the
 * entry matched, and an entry whose forms match nothing is still reported unmatched (masked).
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createRequire} from 'node:module'

import {type CookieKeys, getFramework} from '../../src/frameworks/index.js'
import {railsPrivateId} from '../../src/frameworks/rails.js'
import {fingerprint, KeepList} from '../../src/sessions/keys.js'

const rails = getFramework('rails')
const flask = getFramework('flask')
const PUBLIC = 'a65a64af7b7a83688770c6b688881ade'
const OTHER = '1f896532d06c19ff4806016ecd417b85'

describe('KeepList with framework key forms', () => {
  it('keeps the private id a Rails public id stands for, and the public id itself (a legacy key)', () => {
    const keep = new KeepList([PUBLIC, OTHER], given => rails.keyForms!(given))
    assert.equal(keep.keeps(railsPrivateId(PUBLIC)), true)
    assert.equal(keep.keeps(railsPrivateId('ffffffffffffffffffffffffffffffff')), false)
    // OTHER named nothing selected: reported by its own masked form, not by its alias.
    assert.deepEqual(keep.unmatched(), [fingerprint(OTHER)])
    assert.equal(keep.keeps(OTHER), true)
    assert.deepEqual(keep.unmatched(), [])
  })

  it('keeps a Flask SQL row named by the sid the cookie carries', () => {
    const sid = '29c38df7-80f2-41f1-a9eb-8a34d48a0bc6'
    const keep = new KeepList([sid], given => flask.keyForms!(given))
    assert.equal(keep.keeps(`session:${sid}`), true)
    assert.equal(keep.keeps(`session:${sid}x`), false)
    assert.deepEqual(keep.unmatched(), [])
  })

  it('without key forms, only the key itself is kept', () => {
    const keep = new KeepList([PUBLIC])
    assert.equal(keep.keeps(railsPrivateId(PUBLIC)), false)
    assert.deepEqual(keep.unmatched(), [fingerprint(PUBLIC)])
  })
})

describe('cookie forms (Framework.cookie): what an operator holds instead of the key', () => {
  const secrets = (values: string[]): CookieKeys => ({appKeys: [], secrets: values})
  const require = createRequire(import.meta.url)
  const {sign} = require('cookie-signature') as {sign(value: string, secret: string): string}
  const express = getFramework('express')
  const spring = getFramework('spring')
  const SID = 'Vn3GyM0xq1oZ2wYv8rTtKqHm5pL9sC4a'

  it('express: s:<sid>.<sig> as cookie-signature signs it, and URL-encoded; checked against every secret given', () => {
    const value = `s:${sign(SID, 'new-secret')}`
    assert.deepEqual(express.cookie!(value, secrets([])), {as: 'express signed cookie', key: SID, note: 'signature not checked: no --secret-key'})
    assert.deepEqual(express.cookie!(encodeURIComponent(value), secrets(['old-secret', 'new-secret'])), {as: 'express signed cookie (URL-encoded)', key: SID, note: 'signature checked'})
    assert.equal(express.cookie!(value, secrets(['old-secret']))!.refused, 'signature does not match --secret-key')
    // A signature cut short, or a value that is not a signed cookie.
    assert.equal(express.cookie!(value.slice(0, -1), secrets(['new-secret']))!.refused, 'signature does not match --secret-key')
    for (const other of [SID, 's:', 's:nodot', 's:trailing.', 's%3A%ZZ']) assert.equal(express.cookie!(other, secrets([])), undefined, other)
  })

  it('express: a refused cookie names nothing in a KeepList, and the report says why', () => {
    const value = `s:${sign(SID, 'new-secret')}`
    const names = new KeepList([value], given => [express.cookie!(given, secrets(['wrong']))!])
    assert.equal(names.keeps(SID), false)
    const [report] = names.report()
    assert.deepEqual(report.matchedAs, [])
    assert.equal(report.forms[0].refused, 'signature does not match --secret-key')
    assert.equal(report.forms[0].key, fingerprint(SID))
    assert.deepEqual(names.unmatched(), [fingerprint(value)])
  })

  it('Flask-Session 0.3.2 use_signer: the sid itsdangerous signed (real itsdangerous), checked with the SECRET_KEY', function () {
    let signed: string
    try {
      const script = "from itsdangerous import Signer; print(Signer('flask-secret', salt='flask-session').sign(b'29c38df7-80f2-41f1-a9eb-8a34d48a0bc6').decode())"
      signed = execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'}).trim()
    } catch {
      this.skip()
    }

    assert.deepEqual(flask.cookie!(signed, secrets(['flask-secret'])), {as: 'Flask-Session signed cookie', key: '29c38df7-80f2-41f1-a9eb-8a34d48a0bc6', note: 'signature checked'})
    assert.equal(flask.cookie!(signed, secrets(['other']))!.refused, 'signature does not match --secret-key')
    assert.equal(flask.cookie!('29c38df7-80f2-41f1-a9eb-8a34d48a0bc6', secrets([])), undefined)
  })

  it('Spring: the SESSION cookie is the base64 of the id (DefaultCookieSerializer); a raw UUID is not taken for one', () => {
    const id = '0162a8ca-cf64-42a6-ad82-52d90226f057'
    const value = Buffer.from(id).toString('base64')
    assert.deepEqual(spring.cookie!(value, secrets([])), {as: 'Spring SESSION cookie (base64)', key: id})
    assert.equal(spring.cookie!(id, secrets([])), undefined)
    // Base64 that decodes to bytes no Spring id holds.
    assert.equal(spring.cookie!(Buffer.from([0, 1, 2, 255, 254, 253]).toString('base64'), secrets([])), undefined)
  })
})

describe('KeepList: one session named several ways', () => {
  it('a key given raw, as its fingerprint and as its ... fingerprint: every entry matched, none reported unmatched', () => {
    const key = 'g76r7b9s70ytff2ewaubxvqbvkshf5yv'
    const names = new KeepList([key, fingerprint(key), fingerprint(key).replace('…', '...')])
    assert.equal(names.keeps(key), true)
    assert.deepEqual(names.report().map(r => [r.name, r.matchedAs]), [[fingerprint(key), ['raw key']], [fingerprint(key), ['fingerprint']], [fingerprint(key), ['fingerprint']]])
    assert.deepEqual(names.unmatched(), [])
  })

  it('a Flask sid and its SQL row key given both: both matched by the row', () => {
    const sid = '29c38df7-80f2-41f1-a9eb-8a34d48a0bc6'
    const names = new KeepList([sid, `session:${sid}`], given => flask.keyForms!(given))
    assert.equal(names.keeps(`session:${sid}`), true)
    assert.deepEqual(names.unmatched(), [])
  })
})
