<?php

/**
 * The PHP side of sessionctl's integration tests: real Laravel 8.83 (Debian's Illuminate
 * components, wired by hand the way their service providers wire them) and real PHP native
 * sessions (session_start() with phpredis) write sessions, and say which ones they still see.
 *
 *   php test/php/oracle.php <operation> < params.json  →  one JSON document on stdout
 *
 * Any error: exit 1 with one line on stderr. The TypeScript wrapper is test/support/php.ts, which
 * documents every operation's parameters and answer.
 */

declare(strict_types=1);

namespace SessionctlOracle;

use Illuminate\Auth\AuthManager;
use Illuminate\Auth\SessionGuard;
use Illuminate\Cache\CacheManager;
use Illuminate\Container\Container;
use Illuminate\Contracts\Auth\Guard;
use Illuminate\Database\Connectors\ConnectionFactory;
use Illuminate\Database\DatabaseManager;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Encryption\Encrypter;
use Illuminate\Http\Request;
use Illuminate\Redis\RedisManager;
use Illuminate\Session\SessionManager;
use Illuminate\Session\Store;
use Illuminate\Support\Carbon;
use Illuminate\Support\Str;
use RuntimeException;

foreach (['Auth', 'Cache', 'Container', 'Database', 'Encryption', 'Http', 'Redis', 'Session', 'Support'] as $package) {
    require_once "/usr/share/php/Illuminate/{$package}/autoload.php";
}
require_once __DIR__ . '/lib.php';
require_once __DIR__ . '/native.php';

const LOGIN_GUARD_CLASS = SessionGuard::class;

// ---------------------------------------------------------------------------------------------
// Laravel wiring
// ---------------------------------------------------------------------------------------------

/** The stock laravel/laravel 8.x config values (APP_NAME=Laravel), with the test's servers and switches. */
function laravelConfig(array $in, array $session = []): array
{
    $mysql = $in['mysql'] ?? [];
    $pgsql = $in['pgsql'] ?? null;
    $redis = $in['redis'] ?? [];
    $redisConnection = static fn (int $db): array => [
        'url' => null,
        'host' => $redis['host'] ?? '127.0.0.1',
        'password' => $redis['password'] ?? null,
        'port' => (string) ($redis['port'] ?? 6379),
        'database' => (string) $db,
    ];
    $db = (int) ($redis['db'] ?? 0);
    $provider = $session['provider'] ?? (is_string($session['user'] ?? null) ? 'any' : 'database');

    return [
        'app' => [
            'name' => 'Laravel',
            'key' => $in['appKey'] ?? null,
            'cipher' => $in['cipher'] ?? 'AES-256-CBC',
        ],
        'auth' => [
            'defaults' => ['guard' => 'web', 'passwords' => 'users'],
            'guards' => [
                'web' => ['driver' => 'session', 'provider' => 'users'],
                'admin' => ['driver' => 'session', 'provider' => 'users'],
            ],
            'providers' => [
                'users' => $provider === 'any'
                    ? ['driver' => 'any-id']
                    : ['driver' => 'database', 'table' => $in['usersTable'] ?? 'users'],
            ],
        ],
        'cache' => [
            'default' => 'redis',
            'stores' => ['redis' => ['driver' => 'redis', 'connection' => 'cache', 'lock_connection' => 'default']],
            'prefix' => $redis['cachePrefix'] ?? Str::slug('Laravel', '_') . '_cache',
        ],
        'database' => [
            'default' => $pgsql === null ? 'mysql' : 'pgsql',
            'connections' => [
                // config/database.php of laravel/laravel 8.x, DB_CONNECTION=pgsql
                'pgsql' => [
                    'driver' => 'pgsql',
                    'url' => null,
                    'host' => $pgsql['host'] ?? '127.0.0.1',
                    'port' => (string) ($pgsql['port'] ?? 5432),
                    'database' => $pgsql['database'] ?? 'forge',
                    'username' => $pgsql['user'] ?? 'forge',
                    'password' => $pgsql['password'] ?? '',
                    'charset' => 'utf8',
                    'prefix' => '',
                    'prefix_indexes' => true,
                    'schema' => 'public',
                    'sslmode' => 'prefer',
                ],
                'mysql' => [
                    'driver' => 'mysql',
                    'url' => null,
                    'host' => $mysql['host'] ?? '127.0.0.1',
                    'port' => (string) ($mysql['port'] ?? 3306),
                    'database' => $mysql['database'] ?? 'forge',
                    'username' => $mysql['user'] ?? 'root',
                    'password' => $mysql['password'] ?? '',
                    'unix_socket' => '',
                    'charset' => 'utf8mb4',
                    'collation' => 'utf8mb4_unicode_ci',
                    'prefix' => '',
                    'prefix_indexes' => true,
                    'strict' => $mysql['strict'] ?? true,
                    'engine' => null,
                    'options' => [],
                ],
            ],
            'redis' => [
                'client' => 'phpredis',
                'options' => [
                    'cluster' => 'redis',
                    'prefix' => $redis['prefix'] ?? Str::slug('Laravel', '_') . '_database_',
                ],
                'default' => $redisConnection($db),
                'cache' => $redisConnection((int) ($redis['cacheDb'] ?? $db)),
            ],
        ],
        'session' => [
            'driver' => $in['driver'] ?? 'database',
            'lifetime' => (int) ($in['lifetimeMinutes'] ?? 120),
            'expire_on_close' => false,
            'encrypt' => (bool) ($in['encrypt'] ?? false),
            'connection' => null,
            'table' => $in['table'] ?? 'sessions',
            'store' => null,
            'lottery' => [2, 100],
            'cookie' => Str::slug('Laravel', '_') . '_session',
            'path' => '/',
            'domain' => null,
            'secure' => null,
            'http_only' => true,
            'same_site' => 'lax',
        ],
    ];
}

/**
 * One request's worth of application: what DatabaseServiceProvider, RedisServiceProvider,
 * CacheServiceProvider, EncryptionServiceProvider, SessionServiceProvider and AuthServiceProvider
 * register, plus the core aliases (Guard → auth.driver) and the request.
 */
function laravelApp(array $in, array $session = []): Container
{
    $app = new Container();
    Container::setInstance($app);
    $app->instance('config', new Config(laravelConfig($in, $session)));

    $app->singleton('db.factory', static fn ($app) => new ConnectionFactory($app));
    $app->singleton('db', static fn ($app) => new DatabaseManager($app, $app['db.factory']));
    $app->bind('db.connection', static fn ($app) => $app['db']->connection());

    $app->singleton('redis', static function ($app) {
        $config = $app->make('config')->get('database.redis', []);
        $client = $config['client'];
        unset($config['client']);
        return new RedisManager($app, $client, $config);
    });

    $app->singleton('cache', static fn ($app) => new CacheManager($app));
    $app->singleton('cache.store', static fn ($app) => $app['cache']->driver());

    $app->singleton('encrypter', static function ($app) {
        $config = $app->make('config')->get('app');
        $key = (string) $config['key'];
        if ($key === '') {
            throw new RuntimeException('encrypt needs appKey');
        }
        if (str_starts_with($key, 'base64:')) {
            $key = base64_decode(substr($key, 7), true);
        }
        return new Encrypter($key, $config['cipher']);
    });

    $app->singleton('session', static fn ($app) => new SessionManager($app));
    $app->singleton('session.store', static fn ($app) => $app['session']->driver());

    $app->singleton('auth', static function ($app) {
        $auth = new AuthManager($app);
        $auth->provider('any-id', static fn () => new AnyIdProvider());
        return $auth;
    });
    $app->singleton('auth.driver', static fn ($app) => $app['auth']->guard());
    $app->alias('auth.driver', Guard::class);

    $app->instance('events', new NullEvents());
    $app->instance('cookie', new NoCookies());
    $app->instance('hash', new BcryptHasher());
    $app->instance('request', Request::create('/', 'GET', [], [], [], array_filter([
        'REMOTE_ADDR' => $session['ip'] ?? '127.0.0.1',
        'HTTP_USER_AGENT' => $session['userAgent'] ?? 'sessionctl-oracle',
    ], static fn ($v) => $v !== null)));

    return $app;
}

function loginKey(string $guard): string
{
    return 'login_' . $guard . '_' . sha1(LOGIN_GUARD_CLASS);
}

function pinClock(array $in, int $ageSeconds = 0): void
{
    $now = isset($in['now']) ? (int) $in['now'] : time();
    Carbon::setTestNow(Carbon::createFromTimestamp($now - $ageSeconds));
}

function redisKeyPrefix(array $in): string
{
    $redis = $in['redis'] ?? [];
    $prefix = $redis['prefix'] ?? 'laravel_database_';
    $cachePrefix = $redis['cachePrefix'] ?? 'laravel_cache';
    // Illuminate\Cache\RedisStore::setPrefix in 8.x: a non-empty prefix gets ':'
    return $prefix . ($cachePrefix === '' ? '' : $cachePrefix . ':');
}

/** A plain phpredis client (no prefix) for raw listings. */
function rawRedis(array $redis, ?int $db = null): \Redis
{
    $client = new \Redis();
    if (!$client->connect($redis['host'] ?? '127.0.0.1', (int) ($redis['port'] ?? 6379), 5.0)) {
        throw new RuntimeException('cannot connect to Redis');
    }
    if (isset($redis['password'])) {
        $client->auth($redis['password']);
    }
    $client->select($db ?? (int) ($redis['db'] ?? 0));
    return $client;
}

/** [key => ttl] for every key matching `$prefix*`, sorted. */
function scanPrefix(\Redis $client, string $prefix): array
{
    $client->setOption(\Redis::OPT_SCAN, \Redis::SCAN_RETRY);
    $pattern = str_replace(['\\', '*', '?', '[', ']'], ['\\\\', '\*', '\?', '\[', '\]'], $prefix) . '*';
    $out = [];
    $it = null;
    while (($keys = $client->scan($it, $pattern, 1000)) !== false) {
        foreach ($keys as $key) {
            $out[$key] = $client->ttl($key);
        }
    }
    ksort($out, SORT_STRING);
    return $out;
}

// ---------------------------------------------------------------------------------------------
// Laravel operations
// ---------------------------------------------------------------------------------------------

/** The 8.x `session:table` stub and (for the database user provider) the 8.x users migration. */
function laravelMigrate(array $in): array
{
    $app = laravelApp($in);
    $schema = $app['db']->connection()->getSchemaBuilder();
    $table = $in['table'] ?? 'sessions';
    $users = array_key_exists('usersTable', $in) ? $in['usersTable'] : 'users';
    $created = [];
    if (!empty($in['fresh'])) {
        $schema->dropIfExists($table);
        if ($users !== null) {
            $schema->dropIfExists($users);
        }
    }
    if (!$schema->hasTable($table)) {
        $schema->create($table, static function (Blueprint $table): void {
            $table->string('id')->primary();
            $table->foreignId('user_id')->nullable()->index();
            $table->string('ip_address', 45)->nullable();
            $table->text('user_agent')->nullable();
            $table->text('payload');
            $table->integer('last_activity')->index();
        });
        $created[] = $table;
    }
    if ($users !== null && !$schema->hasTable($users)) {
        $schema->create($users, static function (Blueprint $table): void {
            $table->id();
            $table->string('name');
            $table->string('email')->unique();
            $table->timestamp('email_verified_at')->nullable();
            $table->string('password');
            $table->rememberToken();
            $table->timestamps();
        });
        $created[] = $users;
    }
    $answer = ['created' => $created];
    if (isset($in['pgsql'])) {
        // what the schema builder made of the stub on PostgreSQL: column => type, nullability
        $answer['columns'] = [];
        foreach ($app['db']->connection()->select(
            'SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position',
            [$table],
        ) as $c) {
            $answer['columns'][$c->column_name] = $c->data_type . ($c->is_nullable === 'YES' ? ' NULL' : ' NOT NULL');
        }
    }
    return $answer;
}

function laravelWrite(array $in): array
{
    $driver = $in['driver'] ?? 'database';
    if (!in_array($driver, ['database', 'redis'], true)) {
        throw new RuntimeException("unknown driver {$driver}");
    }
    $ids = [];
    foreach ($in['sessions'] ?? [] as $i => $spec) {
        $user = fromJson($spec['user'] ?? null);
        $guardName = $spec['guard'] ?? 'web';
        $age = (int) ($spec['ageSeconds'] ?? 0);
        if ($age !== 0 && $driver !== 'database') {
            throw new RuntimeException('ageSeconds needs the database driver (Redis keeps no last_activity; age a key with PEXPIRE)');
        }
        pinClock($in, $age);
        $app = laravelApp($in, ['user' => $user] + $spec);
        if ($user !== null && ($spec['provider'] ?? (is_string($user) ? 'any' : 'database')) === 'database') {
            $app['db']->connection()->table($in['usersTable'] ?? 'users')->insertOrIgnore([
                'id' => $user,
                'name' => "user {$user}",
                'email' => "user{$user}@example.test",
                'password' => $app['hash']->make('secret'),
            ]);
        }

        /** @var Store $store */
        $store = $app['session.store'];
        $store->start();
        if ($user !== null) {
            $guard = $app['auth']->guard($guardName);
            $ok = empty($spec['once']) ? $guard->loginUsingId($user) : $guard->onceUsingId($user);
            if ($ok === false) {
                throw new RuntimeException("session {$i}: the user provider found no user " . json_encode($user));
            }
        }
        foreach ($spec['attrs'] ?? [] as $key => $value) {
            $store->put((string) $key, fromJson($value));
        }
        if (!empty($spec['logoutWithoutInvalidate'])) {
            $app['auth']->guard($guardName)->logout();
        }
        $store->save();
        $ids[] = $store->getId();
    }
    return ['ids' => $ids];
}

function laravelRead(array $in): array
{
    pinClock($in);
    $guardName = $in['guard'] ?? 'web';
    $sessions = [];
    foreach ($in['ids'] ?? [] as $id) {
        $app = laravelApp($in);
        /** @var Store $store */
        $store = $app['session.store'];
        $store->setId($id);
        $valid = $store->getId() === $id;
        // exactly what Store::start() merges into the session (the handler's read, honouring expiry,
        // then decryption and unserialize; [] when nothing usable was there)
        $loaded = $valid ? (new \ReflectionMethod($store, 'readFromHandler'))->invoke($store) : [];
        $store->start();
        $user = $store->get(loginKey($guardName));
        $sessions[] = [
            'id' => $id,
            'validId' => $valid,
            'loaded' => $loaded !== [],
            'user' => $user === null ? null : (string) $user,
            'userType' => $user === null ? null : get_debug_type($user),
            'data' => toJson($loaded),
        ];
    }
    return ['loginKey' => loginKey($guardName), 'sessions' => $sessions];
}

/**
 * The session cookie values Laravel 8's EncryptCookies sends for these ids: the Encrypter (the app's
 * own, from laravelApp) over CookieValuePrefix::create($name, $key) . $id, unserialized, as the
 * Set-Cookie header carries them (rawurlencode). Debian ships no illuminate/cookie, so the prefix is
 * computed as CookieValuePrefix does: hash_hmac('sha1', $name . 'v2', $key) . '|'.
 */
function laravelCookies(array $in): array
{
    $encrypter = laravelApp($in)->make('encrypter');
    $name = (string) ($in['cookieName'] ?? 'laravel_session');
    $prefix = hash_hmac('sha1', $name . 'v2', $encrypter->getKey()) . '|';
    return ['cookies' => array_map(static fn ($id) => rawurlencode($encrypter->encrypt($prefix . $id, false)), $in['ids'] ?? [])];
}

function laravelIds(array $in): array
{
    $driver = $in['driver'] ?? 'database';
    if ($driver === 'redis') {
        $prefix = redisKeyPrefix($in);
        $keys = [];
        foreach (scanPrefix(rawRedis($in['redis'] ?? []), $prefix) as $key => $ttl) {
            $keys[] = ['key' => $key, 'id' => substr($key, strlen($prefix)), 'ttl' => $ttl];
        }
        return ['prefix' => $prefix, 'ids' => array_column($keys, 'id'), 'keys' => $keys];
    }
    $app = laravelApp($in);
    $rows = $app['db']->connection()->table($in['table'] ?? 'sessions')
        ->orderBy('id')->get(['id', 'user_id', 'ip_address', 'user_agent', 'last_activity']);
    $out = [];
    foreach ($rows as $row) {
        $out[] = [
            'id' => $row->id,
            'userId' => $row->user_id === null ? null : (string) $row->user_id,
            'ipAddress' => $row->ip_address,
            'userAgent' => $row->user_agent,
            'lastActivity' => (int) $row->last_activity,
        ];
    }
    return ['ids' => array_column($out, 'id'), 'rows' => $out];
}

/** The handler's own gc(lifetime*60), as StartSession::collectGarbage calls it; what it deleted. */
function laravelGc(array $in): array
{
    pinClock($in);
    $before = laravelIds($in)['ids'];
    $app = laravelApp($in);
    $lifetime = (int) $app['config']['session.lifetime'] * 60;
    $returned = $app['session.store']->getHandler()->gc($lifetime);
    $after = laravelIds($in)['ids'];
    $deleted = array_values(array_diff($before, $after));
    return ['deleted' => count($deleted), 'deletedIds' => $deleted, 'lifetimeSeconds' => $lifetime, 'returned' => $returned];
}

/** Ordinary application cache items (Cache::put / Cache::forever on the `cache` connection). */
function laravelCacheItems(array $in): array
{
    $app = laravelApp($in);
    $cache = $app['cache']->store('redis');
    $keys = [];
    foreach ($in['items'] ?? [] as $item) {
        $key = (string) $item['key'];
        $value = fromJson($item['value']);
        if (!empty($item['forever'])) {
            $cache->forever($key, $value);
        } else {
            $cache->put($key, $value, (int) ($item['seconds'] ?? 3600));
        }
        $keys[] = redisKeyPrefix($in) . $key;
    }
    return ['keys' => $keys];
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

installErrorHandler();
try {
    $op = $argv[1] ?? '';
    $raw = stream_get_contents(STDIN);
    $in = $raw === '' || $raw === false ? [] : json_decode($raw, true, 512, JSON_THROW_ON_ERROR);
    if (!is_array($in)) {
        throw new RuntimeException('the parameters must be a JSON object');
    }
    $result = match ($op) {
        'laravel.migrate' => laravelMigrate($in),
        'laravel.write' => laravelWrite($in),
        'laravel.read' => laravelRead($in),
        'laravel.ids' => laravelIds($in),
        'laravel.cookies' => laravelCookies($in),
        'laravel.gc' => laravelGc($in),
        'laravel.cacheItems' => laravelCacheItems($in),
        'php.write' => nativeWrite($in),
        'php.read' => nativeRead($in),
        'php.ids' => nativeIds($in),
        'php._holdLock' => nativeHoldLock($in),
        default => throw new RuntimeException("unknown operation '{$op}'"),
    };
    $json = json_encode($result, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PRESERVE_ZERO_FRACTION);
    fwrite(STDOUT, $json . "\n");
    exit(0);
} catch (\Throwable $e) {
    $where = basename($e->getFile()) . ':' . $e->getLine();
    fwrite(STDERR, 'oracle ' . ($op ?? '?') . ': ' . get_class($e) . ': ' . str_replace(["\r", "\n"], ' ', $e->getMessage()) . " ({$where})\n");
    exit(1);
}
