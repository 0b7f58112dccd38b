# frozen_string_literal: true

# The Ruby side of sessionctl's Rails integration tests: real Rails 6.1 components (Debian's
# actionpack, activesupport and activerecord 6.1.7.10, rack 2.2, redis-rb 4.8, mysql2 0.5) write
# sessions through the real session middleware, driven with Rack::MockRequest, and say which
# sessions they still find.
#
#   /usr/bin/ruby test/rails/oracle.rb <operation> < params.json  ->  one JSON document on stdout
#
# Any error: exit 1 with one line on stderr. The TypeScript wrapper is test/support/rails.ts, which
# documents every operation's parameters and answer.
#
# Three stores:
# - cache: ActionDispatch::Session::CacheStore over ActiveSupport::Cache::RedisCacheStore (no
#   namespace), behind ActionDispatch::Cookies, as `config.session_store :cache_store` wires it.
# - rack: redis-rack 2.1's Rack::Session::Redis (not packaged by Debian), reduced to what it does
#   with a session: Rack's own PersistedSecure middleware, the session Hash Marshal.dump'ed by
#   redis-store under `rack:session:<private id>` with SETEX expire_after.
# - ar: activerecord-session_store 2.0 (not packaged either), reduced the same way: its [6.1]
#   generator migration, an ActiveRecord model over the `sessions` table, and its
#   ActionDispatch::Session::ActiveRecordStore's find/write/delete with the default :marshal
#   serializer (data = Base64.encode64(Marshal.dump(session))).

require 'json'
require 'base64'
require 'securerandom'
require 'digest'
require 'action_dispatch'
require 'action_dispatch/middleware/session/cache_store'
require 'active_support'
require 'active_support/core_ext/numeric/time'
require 'active_support/cache'
require 'active_support/cache/redis_cache_store'
require 'active_support/testing/time_helpers'
require 'active_record'
require 'rack'
require 'rack/session/abstract/id'
require 'redis'

module SessionctlOracle
  COOKIE_KEY = '_shop_session'
  DEFAULT_EXPIRE_AFTER = 14 * 86_400

  module_function

  # -----------------------------------------------------------------------------------------------
  # Connections
  # -----------------------------------------------------------------------------------------------

  def redis_url(redis)
    auth = redis['password'] ? ":#{CGI.escape(redis['password'])}@" : ''
    "redis://#{auth}#{redis['host'] || '127.0.0.1'}:#{redis['port'] || 6379}/#{redis['db'] || 0}"
  end

  def raw_redis(input)
    Redis.new(url: redis_url(input['redis'] || {}))
  end

  # The application's Rails.cache: `config.cache_store = :redis_cache_store, {url:, race_condition_ttl:}`.
  def cache_store(input)
    options = {url: redis_url(input['redis'] || {})}
    ttl = input.fetch('raceConditionTtl', 0).to_i
    options[:race_condition_ttl] = ttl if ttl.positive?
    options[:namespace] = input['namespace'] if input['namespace']
    ActiveSupport::Cache::RedisCacheStore.new(**options)
  end

  # The app's database.yml: `postgres` (adapter postgresql, ruby-pg) or `mysql` (mysql2).
  def connect_db(input)
    return connect_postgres(input) if input['postgres']

    connect_mysql(input)
  end

  def connect_postgres(input)
    pg = input['postgres']
    ActiveRecord::Base.establish_connection(
      adapter: 'postgresql',
      host: pg['host'] || '127.0.0.1',
      port: (pg['port'] || 5432).to_i,
      username: pg['user'] || 'postgres',
      password: pg['password'].to_s.empty? ? nil : pg['password'],
      database: pg['database'],
      encoding: 'unicode',
    )
    ActiveRecord::Base.logger = nil
  end

  def connect_mysql(input)
    mysql = input['mysql'] || {}
    ActiveRecord::Base.establish_connection(
      adapter: 'mysql2',
      host: mysql['host'] || '127.0.0.1',
      port: (mysql['port'] || 3306).to_i,
      username: mysql['user'] || 'root',
      password: mysql['password'] || '',
      database: mysql['database'],
      encoding: 'utf8mb4',
    )
    ActiveRecord::Base.logger = nil
  end

  # -----------------------------------------------------------------------------------------------
  # The activerecord-session_store pieces
  # -----------------------------------------------------------------------------------------------

  # ActiveRecord::SessionStore::Session, with its default :marshal serializer.
  class Session < ActiveRecord::Base
    self.table_name = 'sessions'

    def self.dump(hash)
      Base64.encode64(Marshal.dump(hash))
    end

    def self.load(text)
      text.nil? ? {} : Marshal.load(Base64.decode64(text)) # rubocop:disable Security/MarshalLoad
    end
  end

  # The gem's `rails generate active_record:session_migration` template, at [6.1].
  def session_migration(table)
    Class.new(ActiveRecord::Migration[6.1]) do
      define_method(:change) do
        create_table table do |t|
          t.string :session_id, null: false
          t.text :data
          t.timestamps
        end
        add_index table, :session_id, unique: true
        add_index table, :updated_at
      end
    end
  end

  # ActionDispatch::Session::ActiveRecordStore (activerecord-session_store 2.0), the parts a
  # request goes through: find by private id (then the legacy public id), write, delete.
  class ActiveRecordStore < ActionDispatch::Session::AbstractSecureStore
    def find_session(_req, sid)
      record = sid && (Session.find_by(session_id: sid.private_id) || Session.find_by(session_id: sid.public_id))
      if record
        [sid, Session.load(record.data)]
      else
        [generate_sid, {}]
      end
    end

    def write_session(_req, sid, session, _options)
      record = Session.find_by(session_id: sid.private_id) || Session.new(session_id: sid.private_id)
      record.data = Session.dump(session)
      record.save!
      sid
    end

    def delete_session(_req, sid, _options)
      Session.where(session_id: [sid.private_id, sid.public_id]).delete_all
      generate_sid
    end
  end

  # redis-rack 2.1's Rack::Session::Redis over redis-store (Marshal), namespace `rack:session`:
  # find by private id (then the legacy public id), SETEX expire_after, delete both.
  module RedisRackSession
    def initialize(app, options = {})
      @redis = options.delete(:redis)
      @prefix = options.delete(:prefix) || 'rack:session:'
      super
    end

    def find_session(_req, sid)
      raw = sid && (@redis.get(@prefix + sid.private_id) || @redis.get(@prefix + sid.public_id))
      raw ? [sid, Marshal.load(raw)] : [generate_sid, {}] # rubocop:disable Security/MarshalLoad
    end

    def write_session(_req, sid, session, options)
      ttl = options[:expire_after]
      if ttl
        @redis.setex(@prefix + sid.private_id, ttl.to_i, Marshal.dump(session))
      else
        @redis.set(@prefix + sid.private_id, Marshal.dump(session))
      end
      sid
    end

    def delete_session(_req, sid, _options)
      @redis.del(@prefix + sid.public_id, @prefix + sid.private_id)
      generate_sid
    end
  end

  # Plain Rack (a Sinatra or Roda app): Rack's own ids, SecureRandom.hex(32), 64 hex characters.
  class RedisRackStore < Rack::Session::Abstract::PersistedSecure
    include RedisRackSession
  end

  # redis-actionpack's ActionDispatch::Session::RedisStore (`config.session_store :redis_store`):
  # the same store under ActionDispatch's session object, so Rails' ids, SecureRandom.hex(16).
  class RedisActionpackStore < ActionDispatch::Session::AbstractSecureStore
    include RedisRackSession
  end

  # -----------------------------------------------------------------------------------------------
  # The application
  # -----------------------------------------------------------------------------------------------

  # JSON for Ruby: {"__sym": "x"} is a Symbol, {"__time": unix} a Time; the rest as JSON parses it.
  def from_json(value)
    case value
    when Array then value.map { |v| from_json(v) }
    when Hash
      return value['__sym'].to_sym if value.keys == ['__sym']
      return Time.at(value['__time']).utc if value.keys == ['__time']

      value.to_h { |k, v| [k, from_json(v)] }
    else value
    end
  end

  def to_json_value(value)
    case value
    when Hash then value.to_h { |k, v| [k.to_s, to_json_value(v)] }
    when Array then value.map { |v| to_json_value(v) }
    when Symbol then {'__sym' => value.to_s}
    when Time then {'__time' => value.to_f}
    when Integer then value.abs > (2**53) - 1 ? {'__int' => value.to_s} : value
    when String, Float, true, false, nil then value
    else {'__class' => value.class.name, 'inspect' => value.inspect}
    end
  end

  # What a Devise sign-in leaves in the session, then the spec's own attributes.
  def fill_session(session, spec)
    session['_csrf_token'] = SecureRandom.base64(32)
    {'user' => spec['user'], 'admin' => spec['admin']}.each do |scope, id|
      next if id.nil?

      session["warden.user.#{scope}.key"] = [[id], "$2a$12$#{SecureRandom.alphanumeric(22)}"]
      session["warden.user.#{scope}.session"] = {'last_request_at' => Time.now.to_i}
    end
    (spec['attrs'] || {}).each { |key, value| session[key] = from_json(value) }
  end

  def writer_app
    lambda do |env|
      req = ActionDispatch::Request.new(env)
      spec = env['oracle.spec']
      req.session_options[:expire_after] = spec['expireAfter'] if spec.key?('expireAfter')
      fill_session(req.session, spec)
      [200, {'Content-Type' => 'text/plain'}, ['written']]
    end
  end

  # Loads the session the cookie names and commits nothing back (no touch, no new session).
  def reader_app
    lambda do |env|
      req = ActionDispatch::Request.new(env)
      req.session_options[:skip] = true
      env['oracle.session'] = req.session.to_hash
      [200, {'Content-Type' => 'text/plain'}, ['read']]
    end
  end

  def middleware(kind, input, app)
    expire_after = input.fetch('expireAfter', DEFAULT_EXPIRE_AFTER)
    case kind
    when 'cache'
      ActionDispatch::Cookies.new(ActionDispatch::Session::CacheStore.new(app, cache: cache_store(input), key: COOKIE_KEY, expire_after: expire_after))
    when 'rack'
      options = {redis: raw_redis(input), prefix: input['prefix'], expire_after: expire_after}
      if input['actionpack']
        ActionDispatch::Cookies.new(RedisActionpackStore.new(app, key: COOKIE_KEY, **options))
      else
        RedisRackStore.new(app, key: 'rack.session', **options)
      end
    when 'ar'
      ActionDispatch::Cookies.new(ActiveRecordStore.new(app, key: COOKIE_KEY))
    else raise ArgumentError, "unknown store #{kind}"
    end
  end

  def cookie_name(kind, input)
    kind == 'rack' && !input['actionpack'] ? 'rack.session' : COOKIE_KEY
  end

  def private_id(public_id)
    Rack::Session::SessionId.new(public_id).private_id
  end

  # -----------------------------------------------------------------------------------------------
  # Operations
  # -----------------------------------------------------------------------------------------------

  extend ActiveSupport::Testing::TimeHelpers

  def write(kind, input)
    connect_db(input) if kind == 'ar'
    stack = middleware(kind, input, writer_app)
    name = cookie_name(kind, input)
    ids = (input['sessions'] || []).each_with_index.map do |spec, i|
      age = spec.fetch('ageSeconds', 0).to_i
      raise ArgumentError, 'ageSeconds needs the ar store (Redis ages by expireAfter)' if age != 0 && kind != 'ar'

      next legacy_write(kind, input, spec) if spec['legacyKey']

      request = -> { Rack::MockRequest.new(stack).get('/', 'oracle.spec' => spec) }
      response = age.zero? ? request.call : travel_to(Time.now - age) { request.call }
      cookie = Array(response.headers['Set-Cookie']).join("\n")[/(?:\A|\n)#{Regexp.escape(name)}=([^;\n]*)/, 1]
      raise "session #{i}: no #{name} cookie (status #{response.status})" if cookie.nil? || cookie.empty?

      Rack::Utils.unescape(cookie)
    end
    specs = input['sessions'] || []
    keys = ids.each_with_index.map do |id, i|
      kind == 'ar' ? private_id(id) : redis_key(kind, input, id, legacy: specs[i]['legacyKey'] == true)
    end
    {ids: ids, keys: keys}
  ensure
    travel_back
  end

  # What Rails < 5.2's CacheStore#write_session did (before CVE-2019-16782): the session under
  # `_session_id:<public id>`, through the same cache. 6.1 still loads it (get_session_with_fallback).
  def legacy_write(kind, input, spec)
    raise ArgumentError, 'legacyKey needs the cache store' unless kind == 'cache'

    sid = SecureRandom.hex(16)
    session = {}
    fill_session(session, spec)
    cache_store(input).write("_session_id:#{sid}", session, expires_in: spec.fetch('expireAfter', input.fetch('expireAfter', DEFAULT_EXPIRE_AFTER)))
    sid
  end

  def redis_key(kind, input, public_id, legacy: false)
    return (input['prefix'] || 'rack:session:') + private_id(public_id) unless kind == 'cache'

    namespace = input['namespace'] ? "#{input['namespace']}:" : ''
    "#{namespace}_session_id:#{legacy ? public_id : private_id(public_id)}"
  end

  def read(kind, input)
    connect_db(input) if kind == 'ar'
    stack = middleware(kind, input, reader_app)
    scope = input['scope'] || 'user'
    name = cookie_name(kind, input)
    sessions = (input['ids'] || []).map do |id|
      env = Rack::MockRequest.env_for('/', 'HTTP_COOKIE' => "#{name}=#{Rack::Utils.escape(id)}")
      stack.call(env)
      data = env['oracle.session'] || {}
      user = data.dig("warden.user.#{scope}.key", 0, 0)
      answer = {
        id: id,
        loaded: !data.empty?,
        user: user&.to_s,
        userType: user.nil? ? nil : user.class.name,
        data: to_json_value(data),
      }
      answer[:row] = !Session.find_by(session_id: private_id(id)).nil? if kind == 'ar'
      answer
    end
    {sessions: sessions}
  end

  # What the cache store keeps for each id, straight from Redis: the Entry's own fields.
  def cache_entries(input)
    redis = raw_redis(input)
    entries = (input['ids'] || []).map do |id|
      key = redis_key('cache', input, id)
      key = redis_key('cache', input, id, legacy: true) unless redis.exists?(key)
      raw = redis.get(key)
      entry = raw && Marshal.load(raw) # rubocop:disable Security/MarshalLoad
      {
        id: id,
        key: key,
        present: !raw.nil?,
        pttlMs: redis.pttl(key),
        compressed: entry ? entry.instance_variable_get(:@compressed) == true : nil,
        expired: entry ? entry.expired? : nil,
        expiresAt: entry&.expires_at,
      }
    end
    {entries: entries}
  end

  def ar_migrate(input)
    connect_db(input)
    table = input['table'] || 'sessions'
    ActiveRecord::Migration.verbose = false
    ActiveRecord::Base.connection.drop_table(table, if_exists: true) if input['fresh']
    session_migration(table).new.migrate(:up) unless ActiveRecord::Base.connection.table_exists?(table)
    return {createTable: ActiveRecord::Base.connection.select_rows("SHOW CREATE TABLE `#{table}`")[0][1]} unless input['postgres']

    # PostgreSQL: what the migration made, column => "type NULL|NOT NULL", and the index definitions
    columns = ActiveRecord::Base.connection.select_rows(
      'SELECT column_name, format_type(a.atttypid, a.atttypmod), is_nullable FROM information_schema.columns c ' \
      'JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || \'.\' || quote_ident(c.table_name))::regclass AND a.attname = c.column_name ' \
      "WHERE c.table_schema = current_schema() AND c.table_name = #{ActiveRecord::Base.connection.quote(table)} ORDER BY c.ordinal_position",
    ).to_h { |name, type, nullable| [name, "#{type} #{nullable == 'YES' ? 'NULL' : 'NOT NULL'}"] }
    indexes = ActiveRecord::Base.connection.select_values(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = #{ActiveRecord::Base.connection.quote(table)} ORDER BY indexname",
    )
    {columns: columns, indexes: indexes}
  end

  def ar_rows(input)
    connect_db(input)
    rows = Session.order(:id).map do |r|
      {sessionId: r.session_id, createdAt: r.created_at.utc.iso8601(6), updatedAt: r.updated_at.utc.iso8601(6)}
    end
    {rows: rows}
  end

  # activerecord-session_store's `rake db:sessions:trim`:
  # Session.where("updated_at < ?", SESSION_DAYS_TRIM_THRESHOLD.days.ago).delete_all, with the
  # threshold in minutes here. dryRun: the rows it would delete, none deleted.
  def ar_trim(input)
    connect_db(input)
    minutes = Integer(input.fetch('lifetimeMinutes'))
    stale = Session.where('updated_at < ?', minutes.minutes.ago)
    ids = stale.order(:id).pluck(:session_id)
    deleted = input['dryRun'] ? 0 : stale.delete_all
    {sessionIds: ids, deleted: deleted}
  end

  def run(op, input)
    case op
    when 'cache.write' then write('cache', input)
    when 'cache.read' then read('cache', input)
    when 'cache.entries' then cache_entries(input)
    when 'rack.write' then write('rack', input)
    when 'rack.read' then read('rack', input)
    when 'ar.migrate' then ar_migrate(input)
    when 'ar.write' then write('ar', input)
    when 'ar.read' then read('ar', input)
    when 'ar.rows' then ar_rows(input)
    when 'ar.trim' then ar_trim(input)
    else raise ArgumentError, "unknown operation '#{op}'"
    end
  end
end

op = ARGV[0].to_s
begin
  raw = $stdin.read
  input = raw.nil? || raw.strip.empty? ? {} : JSON.parse(raw)
  raise ArgumentError, 'the parameters must be a JSON object' unless input.is_a?(Hash)

  $stdout.write(JSON.generate(SessionctlOracle.run(op, input)), "\n")
  exit 0
rescue StandardError, ScriptError => e
  where = e.backtrace&.first.to_s.sub(%r{\A.*/}, '')
  warn "oracle #{op}: #{e.class}: #{e.message.gsub(/[\r\n]+/, ' ')} (#{where})"
  exit 1
end
