/**
 * The layering the design names, checked on the sources: readers know no framework or store,
 * adapters know no framework, and a framework file is a declaration over readers and layouts.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'

const SRC = new URL('../src/', import.meta.url).pathname

function files(dir: string): string[] {
  return readdirSync(join(SRC, dir), {recursive: true, withFileTypes: true})
  .filter(e => e.isFile() && e.name.endsWith('.ts'))
  .map(e => relative(SRC, join(e.parentPath, e.name)))
}

/** The src/ directories a file imports from (its own included), by relative import. */
function importedDirs(file: string): Set<string> {
  const text = readFileSync(join(SRC, file), 'utf8')
  const dirs = new Set<string>()
  for (const [, spec] of text.matchAll(/^(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)) {
    const target = relative(SRC, join(SRC, file, '..', spec))
    dirs.add(target.includes('/') ? target.split('/')[0] : '.')
  }

  return dirs
}

describe('architecture', () => {
  it('serialization readers (src/formats/) import no store, framework, session or CLI code', () => {
    const offenders = files('formats').flatMap(f => [...importedDirs(f)].filter(d => !['.', 'formats'].includes(d)).map(d => `${f} → ${d}`))
    // src/errors.ts is the only shared top-level module a reader may use.
    assert.deepEqual(offenders.filter(o => !o.endsWith('→ .')), [])
  })

  it('store adapters (src/stores/) import no framework', () => {
    assert.deepEqual(files('stores').filter(f => importedDirs(f).has('frameworks')), [])
  })

  it('a framework file imports only readers, layout types and the framework helpers', () => {
    for (const f of files('frameworks')) {
      const dirs = [...importedDirs(f)].filter(d => d !== 'frameworks')
      const allowed = f === 'frameworks/index.ts' ? ['formats', 'stores', '.'] : ['formats', 'stores']
      assert.deepEqual(dirs.filter(d => !allowed.includes(d)), [], f)
      if (f !== 'frameworks/index.ts' && f !== 'frameworks/framework.ts') {
        const text = readFileSync(join(SRC, f), 'utf8')
        assert.match(text, /export default defineFramework\(\{/, `${f} declares its framework`)
        // Layout types only: a framework never reaches into an adapter's code.
        for (const [, what] of text.matchAll(/^import (type )?[^'"]*from '\.\.\/stores\/([^']+)'/gm)) assert.equal(what, 'type ', `${f} imports stores code`)
      }
    }
  })
})
