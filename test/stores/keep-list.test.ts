/**
 * --except's KeepList with a framework's key forms: the cookie's session id keeps the stored key
 * it stands for (a Rails public id → `2::<sha256>`, a Flask sid → `session:<sid>`), counts as the
 * entry matched, and an entry whose forms match nothing is still reported unmatched (masked).
 */
import assert from 'node:assert/strict'

import {getFramework} from '../../src/frameworks/index.js'
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
