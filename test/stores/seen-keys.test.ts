import assert from 'node:assert/strict'

import {SeenKeys} from '../../src/stores/seen-keys.js'

describe('SeenKeys: the keys a cluster scan already submitted', () => {
  it('takes each key once, through growth, and tells a repeat', () => {
    const seen = new SeenKeys()
    const keys = Array.from({length: 200_000}, (_, i) => `:1:django.contrib.sessions.cache${i.toString(36).padStart(32, '0')}`)
    for (const key of keys) assert.equal(seen.add(key), true, key)
    assert.equal(seen.size, keys.length)
    for (const key of keys) assert.equal(seen.add(key), false, key)
    assert.equal(seen.size, keys.length)
  })

  it('tells apart keys that differ in one byte, in their length, or only past the last full word', () => {
    const seen = new SeenKeys()
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'abcdf', 'abce', 'abc\u0000', '\u0000', '\u0000\u0000', '\u00FF', 'sess:x', 'sess:y']
    for (const key of keys) assert.equal(seen.add(key), true, JSON.stringify(key))
    for (const key of keys) assert.equal(seen.add(key), false, JSON.stringify(key))
  })
})
