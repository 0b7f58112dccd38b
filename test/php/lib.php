<?php

/**
 * Shared pieces of the PHP test oracle (test/php/oracle.php): strict error handling, the JSON
 * conventions of test/fixtures (tagged big ints, NaN/INF, objects), and the few tiny stand-ins for
 * Illuminate packages Debian does not ship (config, events, cookie, hashing). None of them touches
 * how a session is serialized, stored, read or collected: that is all the real Illuminate code.
 */

declare(strict_types=1);

namespace SessionctlOracle;

use Illuminate\Contracts\Auth\Authenticatable;
use Illuminate\Contracts\Auth\UserProvider;
use Illuminate\Contracts\Config\Repository as ConfigContract;
use Illuminate\Contracts\Cookie\QueueingFactory;
use Illuminate\Contracts\Events\Dispatcher;
use Illuminate\Contracts\Hashing\Hasher;
use Illuminate\Support\Arr;
use RuntimeException;

/** Every notice or warning is an error; deprecations are collected (Laravel 8 on PHP 8.2 has some). */
function installErrorHandler(): void
{
    set_error_handler(static function (int $level, string $message, string $file, int $line): bool {
        if (!(error_reporting() & $level)) {
            return false; // silenced with @ (Store::readFromHandler's @unserialize)
        }
        if ($level === E_DEPRECATED || $level === E_USER_DEPRECATED) {
            return true;
        }
        throw new \ErrorException($message, 0, $level, $file, $line);
    });
}

/** Input JSON to PHP values: {"__int": "…"} → int, {"__float": "NAN"|"INF"|"-INF"|"-0"|"1.5"} → float. */
function fromJson(mixed $value): mixed
{
    if (!is_array($value)) {
        return $value;
    }
    if (count($value) === 1 && array_key_exists('__int', $value)) {
        $text = (string) $value['__int'];
        if (!preg_match('/^-?\d+$/', $text) || (string) (int) $text !== $text) {
            throw new RuntimeException("__int out of range or malformed: {$text}");
        }
        return (int) $text;
    }
    if (count($value) === 1 && array_key_exists('__float', $value)) {
        return match ((string) $value['__float']) {
            'NAN' => NAN,
            'INF' => INF,
            '-INF' => -INF,
            '-0' => -0.0,
            default => (float) $value['__float'],
        };
    }
    return array_map(__NAMESPACE__ . '\fromJson', $value);
}

/**
 * PHP values to output JSON, as test/fixtures' PHP-FIXTURES.md describes `expect.data`: ints beyond
 * ±(2^53-1) → {"__int"}, NaN/±INF → {"__float"}, enums → {"__enum"}, objects → {"__class", "props"}
 * with the property names as serialized (protected "\0*\0p", private "\0Class\0p").
 */
function toJson(mixed $value): mixed
{
    if (is_int($value)) {
        return abs($value) > 9007199254740991 || $value === PHP_INT_MIN ? ['__int' => (string) $value] : $value;
    }
    if (is_float($value)) {
        if (is_nan($value)) {
            return ['__float' => 'NAN'];
        }
        if (is_infinite($value)) {
            return ['__float' => $value > 0 ? 'INF' : '-INF'];
        }
        return $value;
    }
    if ($value instanceof \UnitEnum) {
        return ['__enum' => get_class($value) . ':' . $value->name];
    }
    if (is_object($value)) {
        return ['__class' => get_class($value), 'props' => (object) array_map(__NAMESPACE__ . '\toJson', (array) $value)];
    }
    if (is_array($value)) {
        $out = array_map(__NAMESPACE__ . '\toJson', $value);
        return array_is_list($value) ? $out : (object) $out;
    }
    return $value;
}

/** What Illuminate\Config\Repository does (that package is not in Debian): dot keys over an array. */
final class Config implements ConfigContract, \ArrayAccess
{
    public function __construct(private array $items)
    {
    }

    public function has($key): bool
    {
        return Arr::has($this->items, $key);
    }

    public function get($key, $default = null): mixed
    {
        return Arr::get($this->items, $key, $default);
    }

    public function all(): array
    {
        return $this->items;
    }

    public function set($key, $value = null): void
    {
        Arr::set($this->items, $key, $value);
    }

    public function prepend($key, $value): void
    {
        $this->set($key, array_merge([$value], $this->get($key, [])));
    }

    public function push($key, $value): void
    {
        $this->set($key, array_merge($this->get($key, []), [$value]));
    }

    public function offsetExists(mixed $key): bool
    {
        return $this->has($key);
    }

    public function offsetGet(mixed $key): mixed
    {
        return $this->get($key);
    }

    public function offsetSet(mixed $key, mixed $value): void
    {
        $this->set($key, $value);
    }

    public function offsetUnset(mixed $key): void
    {
        $this->set($key, null);
    }
}

/** No listeners: AuthManager hands the guard `$app['events']`, and the guard fires Login/Logout into it. */
final class NullEvents implements Dispatcher
{
    public function listen($events, $listener = null): void
    {
    }

    public function hasListeners($eventName): bool
    {
        return false;
    }

    public function subscribe($subscriber): void
    {
    }

    public function until($event, $payload = []): mixed
    {
        return null;
    }

    public function dispatch($event, $payload = [], $halt = false): mixed
    {
        return null;
    }

    public function push($event, $payload = []): void
    {
    }

    public function flush($event): void
    {
    }

    public function forget($event): void
    {
    }

    public function forgetPushed(): void
    {
    }
}

/** AuthManager gives every SessionGuard `$app['cookie']`; only remember-me uses it, and the oracle never does. */
final class NoCookies implements QueueingFactory
{
    public function make($name, $value, $minutes = 0, $path = null, $domain = null, $secure = null, $httpOnly = true, $raw = false, $sameSite = null): never
    {
        throw new RuntimeException('the oracle does not support remember-me cookies');
    }

    public function forever($name, $value, $path = null, $domain = null, $secure = null, $httpOnly = true, $raw = false, $sameSite = null): never
    {
        throw new RuntimeException('the oracle does not support remember-me cookies');
    }

    public function forget($name, $path = null, $domain = null): never
    {
        throw new RuntimeException('the oracle does not support remember-me cookies');
    }

    public function queue(...$parameters): never
    {
        throw new RuntimeException('the oracle does not support remember-me cookies');
    }

    public function unqueue($name, $path = null): void
    {
    }

    public function getQueuedCookies(): array
    {
        return [];
    }
}

/** DatabaseUserProvider wants a Hasher (Illuminate\Hashing is not in Debian); logins by id never hash. */
final class BcryptHasher implements Hasher
{
    public function info($hashedValue): array
    {
        return password_get_info($hashedValue);
    }

    public function make($value, array $options = []): string
    {
        return password_hash($value, PASSWORD_BCRYPT, ['cost' => 4]);
    }

    public function check($value, $hashedValue, array $options = []): bool
    {
        return password_verify($value, $hashedValue);
    }

    public function needsRehash($hashedValue, array $options = []): bool
    {
        return false;
    }
}

/**
 * A provider for user ids no users table can hold (UUIDs, '42' as a string): every id is a user, a
 * real Illuminate\Auth\GenericUser whose getAuthIdentifier() is the id exactly as given (int or string).
 */
final class AnyIdProvider implements UserProvider
{
    public function retrieveById($identifier): ?Authenticatable
    {
        return new \Illuminate\Auth\GenericUser(['id' => $identifier, 'password' => '', 'remember_token' => null]);
    }

    public function retrieveByToken($identifier, $token): ?Authenticatable
    {
        return null;
    }

    public function updateRememberToken(Authenticatable $user, $token): void
    {
    }

    public function retrieveByCredentials(array $credentials): ?Authenticatable
    {
        return null;
    }

    public function validateCredentials(Authenticatable $user, array $credentials): bool
    {
        return false;
    }
}
