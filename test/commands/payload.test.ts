/**
 * What `sessions show` says about a payload's values (src/cli/payload.ts), on values the real
 * readers return for bytes Python, PHP and Ruby wrote: type names as each language has them,
 * sizes, secret masking at any depth, and a payload whose shared references expand enormously.
 */
import assert from 'node:assert/strict'

import {
  isSecretKey, jsonValue, payloadEntries, typeName, valueLine,
} from '../../src/cli/payload.js'
import {parseMarshal} from '../../src/formats/marshal.js'
import {parsePhpSerialized} from '../../src/formats/php-serialize.js'
import {parsePickle} from '../../src/formats/pickle.js'

// pickle.dumps({'when': datetime(2026,12,3,9,0), 'raw': b'\x00\xff', 'pair': (1, 2), 'tags': {'a'},
//   'counts': Counter('aab'), 'n': None, 'big': 2**70, 'f': 1.5}, protocol=4), by Python 3.11.
const PICKLE = '800495b6000000000000007d94288c047768656e948c086461746574696d65948c086461746574696d65949394430a07ea0c0309000000000094859452948c0372617794430200ff948c0470616972944b014b0286948c0474616773948f94288c016194908c06636f756e7473948c0b636f6c6c656374696f6e73948c07436f756e7465729493947d94288c0161944b028c0162944b0175859452948c016e944e8c03626967948a090000000000000000408c016694473ff8000000000000752e'
// a = [1]; 18 times a = [a, a]; pickle.dumps({'bomb': a}): 136 bytes whose JSON is 1.5 MB (the reader refuses
// what expands to more than a million values).
const LEVELS = 18
const BOMB = '8004957c000000000000007d948c04626f6d62945d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d944b0161681465681365681265681165681065680f65680e65680d65680c65680b65680a65680965680865680765680665680565680465680365732e'
// Ruby 3.1: Marshal.dump({"sym" => :admin, "t" => Time.at(0).utc, "s" => "x".b, "h" => {"k" => 1}})
const MARSHAL = '04087b0949220873796d063a0645543a0a61646d696e49220674063b005449753a0954696d650d208011c000000000063a097a6f6e65492208555443063b004649220673063b005422067849220668063b00547b064922066b063b00546906'

describe('show: payload values', () => {
  it('names Python types as Python does, and sizes strings, bytes and containers', () => {
    const data = parsePickle(Buffer.from(PICKLE, 'hex')) as Record<string, unknown>
    const entries = payloadEntries(data, 'python', true)
    assert.deepEqual(entries.map(e => [e.key, e.type, e.size]), [
      ['when', 'str', 19], // the reader gives datetimes as isoformat() text
      ['raw', 'bytes', 2],
      ['pair', 'list (2 items)', 5],
      ['tags', 'list (1 item)', 5],
      ['counts', 'object collections.Counter', entries[4].size],
      ['n', 'None', 4],
      ['big', 'int', 24],
      ['f', 'float', 3],
    ])
    assert.deepEqual(entries[1].value, {__bytes__: 'AP8='})
    assert.equal(entries[6].value, '1180591620717411303424')
    assert.equal(entries[4].size, JSON.stringify(entries[4].value).length)
  })

  it('names PHP and Ruby types, objects by class', () => {
    const php = parsePhpSerialized(Buffer.from('a:4:{s:4:"user";O:8:"App\\User":1:{s:2:"id";i:42;}s:3:"bin";s:2:"\u00FF\u00FE";s:4:"list";a:2:{i:0;i:1;i:1;i:2;}s:1:"d";d:0.5;}', 'latin1')) as Record<string, unknown>
    assert.deepEqual(payloadEntries(php, 'php', false).map(e => [e.key, e.type]), [
      ['user', String.raw`object App\User`], ['bin', 'string (binary)'], ['list', 'array (2 items)'], ['d', 'float'],
    ])
    const ruby = parseMarshal(Buffer.from(MARSHAL, 'hex')) as Record<string, unknown>
    assert.deepEqual(payloadEntries(ruby, 'ruby', false).map(e => [e.key, e.type]), [
      ['sym', 'String'], ['t', 'object Time'], ['s', 'String (binary)'], ['h', 'Hash (1 key)'],
    ])
    assert.equal(typeName(true, 'ruby'), 'true')
    assert.equal(typeName({__class__: 'org.example.Cart', items: []}, 'java'), 'object org.example.Cart')
    assert.equal(typeName({__class__: 'x'}, 'js'), 'object (1 key)', 'JSON sessions have no tagged objects')
  })

  it('masks secret-looking keys at any depth, values included only when asked', () => {
    for (const key of ['_auth_user_hash', '_token', 'csrf_token', 'csrfSecret', 'password_hash_web', 'api_key', 'client_secret', 'credentials', 'XSRF-TOKEN']) {
      assert.ok(isSecretKey(key), key)
    }

    for (const key of ['_auth_user_id', 'cart', 'login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d', 'warden.user.user.key', 'passport']) {
      assert.ok(!isSecretKey(key), key)
    }

    const data = {auth: {password: 'hunter2', user: 42}, list: [{token: 'x'}], token: 'y'}
    assert.deepEqual(payloadEntries(data, 'js', false).map(e => 'value' in e), [false, false, false])
    const revealed = payloadEntries(data, 'js', true)
    assert.deepEqual(revealed.map(e => e.value), [{password: '(masked)', user: 42}, [{token: '(masked)'}], undefined])
    assert.deepEqual(revealed.map(e => e.masked), [false, false, true])
  })

  it('a small pickle that shares one list 2^18 times: sized exactly, rendered only in part, at once', () => {
    const started = Date.now()
    const data = parsePickle(Buffer.from(BOMB, 'hex')) as Record<string, unknown>
    const [entry] = payloadEntries(data, 'python', true)
    // [[…],[…]] at each of 40 levels around [1]: s(0) = 3, s(n) = 2 s(n-1) + 3.
    assert.equal(entry.size, (3 * (2 ** (LEVELS + 1))) - 3)
    assert.equal(entry.type, 'list (2 items)')
    assert.match(JSON.stringify(entry.value), /…\(truncated\)/)
    assert.ok(JSON.stringify(entry.value).length < 2_000_000)
    assert.ok(valueLine(entry.value, 60).length <= 60)
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`)
  })

  it('renders what JSON cannot hold', () => {
    assert.deepEqual(jsonValue([Number.NaN, Number.POSITIVE_INFINITY, 10n ** 30n, null, undefined]), ['NaN', 'Infinity', '1000000000000000000000000000000', null, null])
    assert.equal(valueLine('é\u001B[2J', 80), String.raw`"é\u001b[2J"`)
  })
})
