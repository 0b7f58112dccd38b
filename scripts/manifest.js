// Writes oclif.manifest.json (what `oclif manifest` does) so the CLI need not import every
// command to start: part of `npm run build`.
import {Plugin} from '@oclif/core/config'
import {writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const plugin = new Plugin({
  errorOnManifestCreate: true, ignoreManifest: true, isRoot: true, root, type: 'core',
})
await plugin.load()
writeFileSync(new URL('../oclif.manifest.json', import.meta.url), JSON.stringify(plugin.manifest))
