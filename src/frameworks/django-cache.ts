import type {CodecSettings} from '../formats/codec.js'

import {createCacheValueCodec} from '../formats/python-cache.js'
import {DJANGO_USER_PATH, djangoKeys} from './django.js'
import {defineFramework} from './framework.js'

/** The django-cache codec with Django's defaults. */
export function createDjangoCacheCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createCacheValueCodec({maxPayloadBytes: options.maxPayloadBytes, name: 'django-cache', userPath: options.userPath ?? DJANGO_USER_PATH})
}

/**
 * Django's cache session backend and the cache half of cached_db, in Redis (Django's RedisCache
 * or django-redis): the session dict itself, unsigned, pickled or JSON, optionally compressed
 * (docs/session-formats.md §1.5). The Redis TTL is the expiry.
 */
export default defineFramework({
  codec: createDjangoCacheCodec,
  language: 'python',
  name: 'django-cache',
  // `--prefix` is the cache's KEY_PREFIX and VERSION as Django joins them (`<prefix>:<version>:`).
  redis(prefix) {
    const base = `${prefix ?? ':1:'}django.contrib.sessions.`
    return djangoKeys([`${base}cached_db`, `${base}cache`])
  },
  summary: 'Django cache and cached_db sessions in Redis (:1:django.contrib.sessions.cache…): pickled dicts, optionally compressed',
  userPath: DJANGO_USER_PATH,
})
