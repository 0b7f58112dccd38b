import type {CodecSettings} from '../formats/codec.js'

import {createPhpCodec} from '../formats/php-codec.js'
import {defineFramework} from './framework.js'

/** PHP's own sessions: `$_SESSION` as the session module wrote it, any serialize handler. */
export function createPhpNativeCodec(settings: Partial<CodecSettings> & {userPath: readonly string[]}) {
  return createPhpCodec({layers: ['session'], name: 'php', userPath: settings.userPath})
}

/**
 * PHP native sessions in Redis through phpredis (`session.save_handler=redis`,
 * docs/session-formats.md §6): keys `PHPREDIS_SESSION:<id>`, the value in the php, php_serialize,
 * php_binary or igbinary handler's encoding (read from the bytes), the TTL gc_maxlifetime. Apps
 * choose where the user id lives: --user-path is required. The `<id>_LOCK` keys session locking
 * leaves are not sessions (an id is [0-9a-zA-Z,-]).
 */
export default defineFramework({
  codec: s => createPhpNativeCodec(s),
  language: 'php',
  name: 'php',
  redis: prefix => ({keyGlob: '*', keyPattern: /^[\d,A-Za-z-]+$/, prefixes: [prefix ?? 'PHPREDIS_SESSION:']}),
  summary: 'PHP native sessions in Redis via phpredis (PHPREDIS_SESSION:<id>), every serialize handler; needs --user-path',
})
