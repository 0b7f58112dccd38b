<?php

/**
 * PHP native sessions for the oracle (test/php/oracle.php): session_start() with
 * session.save_handler=redis (phpredis), the serialize handler under test, and optionally
 * phpredis' session locking. Nothing here formats a value: PHP's session module does.
 */

declare(strict_types=1);

namespace SessionctlOracle;

use RuntimeException;

const SERIALIZE_HANDLERS = ['php', 'php_serialize', 'php_binary', 'igbinary'];

/** The ini settings of one call, applied before each session_start(). */
function nativeIni(array $in): array
{
    $redis = $in['redis'] ?? [];
    $query = ['database' => (string) (int) ($redis['db'] ?? 0)];
    if (isset($in['prefix'])) {
        $query['prefix'] = (string) $in['prefix'];
    }
    if (isset($redis['password'])) {
        $query['auth'] = (string) $redis['password'];
    }
    $handler = $in['serializeHandler'] ?? 'php';
    if (!in_array($handler, SERIALIZE_HANDLERS, true)) {
        throw new RuntimeException("unknown serialize handler {$handler}");
    }
    $ini = [
        'session.save_handler' => 'redis',
        'session.save_path' => sprintf('tcp://%s:%d?%s', $redis['host'] ?? '127.0.0.1', (int) ($redis['port'] ?? 6379), http_build_query($query, '', '&', PHP_QUERY_RFC3986)),
        'session.serialize_handler' => $handler,
        'session.gc_maxlifetime' => (string) (int) ($in['gcMaxlifetime'] ?? 1440),
        'session.gc_probability' => '0',
        'session.use_cookies' => '0',
        'session.use_only_cookies' => '0',
        'session.use_trans_sid' => '0',
        'session.cache_limiter' => '',
        'redis.session.locking_enabled' => empty($in['locking']) ? '0' : '1',
    ];
    if (isset($in['sidLength'])) {
        $ini['session.sid_length'] = (string) (int) $in['sidLength'];
    }
    if (isset($in['sidBitsPerCharacter'])) {
        $ini['session.sid_bits_per_character'] = (string) (int) $in['sidBitsPerCharacter'];
    }
    return $ini;
}

function applyIni(array $ini): void
{
    foreach ($ini as $name => $value) {
        if (ini_set($name, $value) === false && ini_get($name) !== $value) {
            throw new RuntimeException("ini_set({$name}) refused");
        }
    }
}

/** Runs $fn with PHP warnings collected instead of thrown (session_start() reports through them). */
function collectingWarnings(callable $fn, ?array &$warnings): mixed
{
    $warnings = [];
    set_error_handler(static function (int $level, string $message) use (&$warnings): bool {
        if ($level !== E_DEPRECATED && $level !== E_USER_DEPRECATED) {
            $warnings[] = $message;
        }
        return true;
    });
    try {
        return $fn();
    } finally {
        restore_error_handler();
    }
}

function nativeWrite(array $in): array
{
    $ini = nativeIni($in);
    $ids = [];
    foreach ($in['sessions'] ?? [] as $i => $spec) {
        applyIni($ini);
        // a new session each time: without an id, session_start() makes one (PHP's own generator)
        session_id(isset($spec['id']) ? (string) $spec['id'] : '');
        if (!session_start()) {
            throw new RuntimeException("session {$i}: session_start() failed");
        }
        $_SESSION = [];
        foreach ($spec['data'] ?? [] as $key => $value) {
            $_SESSION[$key] = fromJson($value);
        }
        $id = session_id();
        if (!session_write_close()) {
            throw new RuntimeException("session {$i}: session_write_close() failed");
        }
        if (!empty($spec['leaveLock'])) {
            holdLockAndDie($in, $id);
        }
        $ids[] = $id;
    }
    return ['ids' => $ids];
}

/**
 * A worker that dies holding the session lock: a child PHP opens the session with
 * redis.session.locking_enabled=1 and is SIGKILLed before it can close it, so phpredis' `<id>_LOCK`
 * key stays behind (value `host|pid`).
 */
function holdLockAndDie(array $in, string $id): void
{
    $params = json_encode(['id' => $id, 'locking' => true] + $in, JSON_THROW_ON_ERROR);
    $child = proc_open([PHP_BINARY, __DIR__ . '/oracle.php', 'php._holdLock'], [['pipe', 'r'], ['pipe', 'w'], ['pipe', 'w']], $pipes);
    if (!is_resource($child)) {
        throw new RuntimeException('cannot start the lock-holding child');
    }
    fwrite($pipes[0], $params);
    fclose($pipes[0]);
    $line = fgets($pipes[1]);
    if (trim((string) $line) !== 'locked') {
        $err = stream_get_contents($pipes[2]);
        proc_terminate($child, 9);
        proc_close($child);
        throw new RuntimeException('the lock-holding child failed: ' . trim((string) $line . ' ' . $err));
    }
    proc_terminate($child, 9);
    proc_close($child);
}

/** The child of holdLockAndDie(): opens the session (taking the lock), says so, and waits to be killed. */
function nativeHoldLock(array $in): never
{
    applyIni(nativeIni($in));
    session_id((string) $in['id']);
    if (!session_start()) {
        throw new RuntimeException('session_start() failed in the lock-holding child');
    }
    fwrite(STDOUT, "locked\n");
    fflush(STDOUT);
    sleep(60);
    exit(1);
}

function nativeRead(array $in): array
{
    $ini = nativeIni($in);
    $raw = rawRedis($in['redis'] ?? []);
    $prefix = $in['prefix'] ?? 'PHPREDIS_SESSION:';
    $sessions = [];
    foreach ($in['ids'] ?? [] as $id) {
        $key = $prefix . $id;
        $dump = $raw->dump($key);
        $pttl = $raw->pttl($key);
        applyIni($ini);
        session_id((string) $id);
        // read_and_close: PHP reads and decodes, then closes without writing (no TTL refresh).
        $ok = collectingWarnings(static fn () => session_start(['read_and_close' => true]), $warnings);
        $data = $ok ? $_SESSION : [];
        // A value the serialize handler cannot decode makes PHP destroy the session ("Failed to
        // decode session object. Session has been destroyed"). Say so, and put the value back: a
        // question to the oracle must not change the store.
        $destroyed = $dump !== false && !$raw->exists($key);
        if ($destroyed) {
            $raw->restore($key, max(0, (int) $pttl), $dump);
        }
        $sessions[] = [
            'id' => (string) $id,
            'stored' => $dump !== false,
            'destroyedByPhp' => $destroyed,
            'started' => $ok,
            'loaded' => $ok && $data !== [],
            'data' => toJson($data),
            'warnings' => $warnings,
        ];
        $_SESSION = [];
    }
    return ['sessions' => $sessions];
}

function nativeIds(array $in): array
{
    $prefix = $in['prefix'] ?? 'PHPREDIS_SESSION:';
    $keys = [];
    foreach (scanPrefix(rawRedis($in['redis'] ?? []), $prefix) as $key => $ttl) {
        $id = substr($key, strlen($prefix));
        $keys[] = ['key' => $key, 'id' => $id, 'ttl' => $ttl, 'lock' => str_ends_with($id, '_LOCK')];
    }
    return [
        'prefix' => $prefix,
        'ids' => array_values(array_column(array_filter($keys, static fn ($k) => !$k['lock']), 'id')),
        'keys' => $keys,
    ];
}
