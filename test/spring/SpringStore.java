import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContextImpl;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.web.authentication.WebAuthenticationDetails;

/**
 * Writes sessions exactly as Spring Session stores them (JdbcIndexedSessionRepository on MariaDB,
 * RedisIndexedSessionRepository and RedisSessionRepository on Redis) and reads back what is left,
 * for sessionctl's tests. Spring Session itself is not installable here: this program replays the
 * statements and commands of spring-projects/spring-session@206fb60 (4.1.x; and the 3.3.x Redis
 * expiration policy) with the real JDK's ObjectOutputStream (what Spring's SerializingConverter and
 * JdkSerializationRedisSerializer call) and MariaDB Connector/J, or pgJDBC with schema-postgresql.sql
 * and PostgreSqlJdbcIndexedSessionRepositoryCustomizer's attribute upsert (`postgres` params).
 *
 * Usage: java -cp DIR:mariadb-java-client.jar:postgresql.jar SpringStore OP, the parameters as one JSON object on
 * stdin, one JSON document on stdout; on error one line on stderr and exit 1. No libraries: a tiny
 * JSON parser/writer and a RESP2 client over a Socket are below.
 */
public final class SpringStore {

  static final String PRINCIPAL_NAME_INDEX_NAME =
      "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME";
  static final String SPRING_SECURITY_CONTEXT = "SPRING_SECURITY_CONTEXT";
  static final int DEFAULT_MAX_INACTIVE = 1800; // MapSession.DEFAULT_MAX_INACTIVE_INTERVAL_SECONDS
  static final long FIVE_MINUTES_MS = 300_000L;

  public static void main(String[] args) {
    PrintStream out = System.out;
    try {
      if (args.length != 1) throw new IllegalArgumentException("usage: SpringStore OP (params as JSON on stdin)");
      String input = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
      Object parsed = new Json(input).parseDocument();
      if (!(parsed instanceof Map)) throw new IllegalArgumentException("params must be a JSON object");
      @SuppressWarnings("unchecked")
      Map<String, Object> params = (Map<String, Object>) parsed;
      Object answer;
      switch (args[0]) {
        case "jdbc.schema": answer = jdbcSchema(params); break;
        case "jdbc.write": answer = jdbcWrite(params); break;
        case "jdbc.state": answer = jdbcState(params); break;
        case "jdbc.findByPrincipal": answer = jdbcFindByPrincipal(params); break;
        case "jdbc.cleanup": answer = jdbcCleanup(params); break;
        case "redis.write": answer = redisWrite(params); break;
        case "redis.state": answer = redisState(params); break;
        default: throw new IllegalArgumentException("unknown op " + args[0]);
      }
      StringBuilder sb = new StringBuilder();
      Json.write(answer, sb);
      byte[] bytes = sb.append('\n').toString().getBytes(StandardCharsets.UTF_8);
      out.write(bytes, 0, bytes.length);
      out.flush();
      System.exit(0);
    } catch (Throwable e) {
      String message = (e.getClass().getSimpleName() + ": " + e.getMessage()).replace('\n', ' ').replace('\r', ' ');
      System.err.println(message);
      System.exit(1);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sessions as Spring builds them

  /** One session of the spec: MapSession's fields and attributes (a HashMap, as MapSession's). */
  static final class SpringSession {
    String id;
    String primaryId;
    long creationTime;
    long lastAccessedTime;
    int maxInactiveInterval;
    final Map<String, Object> attributes = new HashMap<>();

    /** PrincipalNameIndexResolver.resolveIndexValueFor: the attribute, else `authentication?.name`. */
    String principalName() {
      Object name = this.attributes.get(PRINCIPAL_NAME_INDEX_NAME);
      if (name != null) return (String) name;
      return nameOf(this.attributes.get(SPRING_SECURITY_CONTEXT));
    }

    /** MapSession.isExpired(now). */
    boolean isExpired(long now) {
      return isExpiredAt(this.maxInactiveInterval, this.lastAccessedTime, now);
    }

    /** JdbcSession.getExpiryTime(). */
    long jdbcExpiryTime() {
      return this.maxInactiveInterval < 0 ? Long.MAX_VALUE : this.lastAccessedTime + this.maxInactiveInterval * 1000L;
    }
  }

  static boolean isExpiredAt(int maxInactiveInterval, long lastAccessedTime, long now) {
    if (maxInactiveInterval < 0) return false;
    return now - maxInactiveInterval * 1000L >= lastAccessedTime;
  }

  /** SpEL `authentication?.name` on a SPRING_SECURITY_CONTEXT value (null when absent or not one). */
  static String nameOf(Object context) {
    if (!(context instanceof SecurityContextImpl)) return null;
    SecurityContextImpl impl = (SecurityContextImpl) context;
    return impl.getAuthentication() == null ? null : impl.getAuthentication().getName();
  }

  static long now(Map<String, Object> params) {
    Object now = params.get("nowMs");
    return now == null ? System.currentTimeMillis() : ((Number) now).longValue();
  }

  @SuppressWarnings("unchecked")
  static List<SpringSession> sessions(Map<String, Object> params, long now) {
    List<SpringSession> sessions = new ArrayList<>();
    Object list = params.get("sessions");
    if (list == null) return sessions;
    for (Object o : (List<Object>) list) {
      Map<String, Object> spec = (Map<String, Object>) o;
      SpringSession s = new SpringSession();
      s.id = spec.get("id") == null ? UUID.randomUUID().toString() : (String) spec.get("id");
      s.primaryId = spec.get("primaryId") == null ? UUID.randomUUID().toString() : (String) spec.get("primaryId");
      long ago = spec.get("lastAccessAgoMs") == null ? 0L : ((Number) spec.get("lastAccessAgoMs")).longValue();
      s.lastAccessedTime = now - ago;
      s.creationTime = s.lastAccessedTime - 60_000L;
      s.maxInactiveInterval = spec.get("maxInactiveSeconds") == null ? DEFAULT_MAX_INACTIVE : ((Number) spec.get("maxInactiveSeconds")).intValue();
      s.attributes.put("loginTime", new Date(s.creationTime));
      if (spec.get("principal") != null) s.attributes.put(PRINCIPAL_NAME_INDEX_NAME, (String) spec.get("principal"));
      if (spec.get("securityContext") != null) s.attributes.put(SPRING_SECURITY_CONTEXT, securityContext((String) spec.get("securityContext"), s.id));
      if (spec.get("attributes") != null) {
        for (Map.Entry<String, Object> e : ((Map<String, Object>) spec.get("attributes")).entrySet()) {
          s.attributes.put(e.getKey(), (String) e.getValue());
        }
      }
      if (spec.get("bigAttributeBytes") != null) {
        byte[] blob = new byte[((Number) spec.get("bigAttributeBytes")).intValue()];
        for (int i = 0; i < blob.length; i++) blob[i] = (byte) (i * 31 + 7);
        s.attributes.put("blob", blob);
      }
      sessions.add(s);
    }
    return sessions;
  }

  /** What a form login leaves: SecurityContextImpl → UsernamePasswordAuthenticationToken → User, credentials erased. */
  static SecurityContextImpl securityContext(String username, String sessionId) {
    List<GrantedAuthority> roles = List.of(new SimpleGrantedAuthority("ROLE_USER"));
    User user = new User(username, "{noop}secret", roles);
    user.eraseCredentials();
    UsernamePasswordAuthenticationToken token = new UsernamePasswordAuthenticationToken(user, "secret", user.getAuthorities());
    token.setDetails(new WebAuthenticationDetails("127.0.0.1", sessionId));
    token.eraseCredentials();
    return new SecurityContextImpl(token);
  }

  /** Spring's SerializingConverter / DefaultSerializer: a fresh ObjectOutputStream per value. */
  static byte[] jdk(Object value) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    ObjectOutputStream oos = new ObjectOutputStream(bytes);
    oos.writeObject(value);
    oos.flush();
    return bytes.toByteArray();
  }

  static Object unjdk(byte[] bytes) throws IOException, ClassNotFoundException {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      return in.readObject();
    }
  }

  /** A JDK-serialized String member decoded, or "!base64:…" when it is not one. */
  static String jdkString(byte[] bytes) {
    try {
      Object o = unjdk(bytes);
      if (o instanceof String) return (String) o;
    } catch (Exception ignored) {
      // not a JDK stream
    }
    return "!base64:" + Base64.getEncoder().encodeToString(bytes);
  }

  static String str(Map<String, Object> params, String key, String dflt) {
    Object v = params.get(key);
    return v == null ? dflt : (String) v;
  }

  // ------------------------------------------------------------------------------------------
  // JDBC (JdbcIndexedSessionRepository)

  /** The database is PostgreSQL (pgJDBC, `postgres` params) rather than MariaDB (`mysql`). */
  static boolean postgres(Map<String, Object> params) {
    return params.get("postgres") != null;
  }

  static Connection connect(Map<String, Object> params) throws Exception {
    if (postgres(params)) {
      @SuppressWarnings("unchecked")
      Map<String, Object> pg = (Map<String, Object>) params.get("postgres");
      String url = "jdbc:postgresql://" + pg.get("host") + ":" + ((Number) pg.get("port")).longValue() + "/" + pg.get("database");
      String password = str(pg, "password", "");
      return DriverManager.getConnection(url, str(pg, "user", "postgres"), password.isEmpty() ? null : password);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> mysql = (Map<String, Object>) params.get("mysql");
    String url = "jdbc:mariadb://" + mysql.get("host") + ":" + ((Number) mysql.get("port")).longValue() + "/" + mysql.get("database");
    String user = str(mysql, "user", "root");
    String password = str(mysql, "password", "");
    return DriverManager.getConnection(url, user, password.isEmpty() ? null : password);
  }

  static String table(Map<String, Object> params) {
    String table = str(params, "table", "SPRING_SESSION");
    if (!table.matches("\\w{1,58}")) throw new IllegalArgumentException("bad table name " + table);
    return table;
  }

  @SuppressWarnings("unchecked")
  static Object jdbcSchema(Map<String, Object> params) throws Exception {
    String table = table(params);
    Map<String, Object> answer = new LinkedHashMap<>();
    try (Connection c = connect(params); Statement st = c.createStatement()) {
      for (Object sql : (List<Object>) params.get("statements")) st.execute((String) sql);
      if (postgres(params)) return pgSchema(c, table);
      for (String t : new String[] {table, table + "_ATTRIBUTES"}) {
        try (ResultSet rs = st.executeQuery("SHOW CREATE TABLE `" + t + "`")) {
          rs.next();
          answer.put(t, rs.getString(2));
        }
      }
    }
    return answer;
  }

  /**
   * PostgreSQL: each table under the name PostgreSQL gave it (the script's unquoted names fold to
   * lower case), as `columns` (name type NULL|NOT NULL), `constraints` and `indexes` definitions.
   */
  static Object pgSchema(Connection c, String table) throws Exception {
    Map<String, Object> answer = new LinkedHashMap<>();
    for (String t : new String[] {table, table + "_ATTRIBUTES"}) {
      String oidOf = "(SELECT oid FROM pg_class WHERE relname = ? AND relnamespace = 'public'::regnamespace)";
      Map<String, Object> desc = new LinkedHashMap<>();
      String name;
      try (PreparedStatement ps = c.prepareStatement("SELECT relname FROM pg_class WHERE oid = " + oidOf)) {
        ps.setString(1, t.toLowerCase());
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) throw new IllegalStateException("no table " + t.toLowerCase());
          name = rs.getString(1);
        }
      }
      List<String> columns = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute WHERE attrelid = " + oidOf
          + " AND attnum > 0 AND NOT attisdropped ORDER BY attnum")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) columns.add(rs.getString(1) + " " + rs.getString(2) + (rs.getBoolean(3) ? " NOT NULL" : " NULL"));
        }
      }
      List<String> constraints = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = " + oidOf + " ORDER BY conname")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) constraints.add(rs.getString(1));
        }
      }
      List<String> indexes = new ArrayList<>();
      try (PreparedStatement ps = c.prepareStatement("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ? ORDER BY indexname")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) indexes.add(rs.getString(1));
        }
      }
      desc.put("columns", columns);
      desc.put("constraints", constraints);
      desc.put("indexes", indexes);
      answer.put(name, desc);
    }
    return answer;
  }

  /** cleanUpExpiredSessions(): JdbcIndexedSessionRepository's DELETE_SESSIONS_BY_EXPIRY_TIME_QUERY with now; how many it deleted. */
  static Object jdbcCleanup(Map<String, Object> params) throws Exception {
    String table = table(params);
    long now = now(params);
    Map<String, Object> answer = new LinkedHashMap<>();
    try (Connection c = connect(params); PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE EXPIRY_TIME < ?")) {
      ps.setLong(1, now);
      answer.put("deleted", ps.executeUpdate());
    }
    return answer;
  }

  static Object jdbcWrite(Map<String, Object> params) throws Exception {
    String table = table(params);
    long now = now(params);
    // JdbcIndexedSessionRepository's CREATE_SESSION_QUERY and CREATE_SESSION_ATTRIBUTE_QUERY, %TABLE_NAME% replaced.
    String createSession = "INSERT INTO " + table
        + " (PRIMARY_ID, SESSION_ID, CREATION_TIME, LAST_ACCESS_TIME, MAX_INACTIVE_INTERVAL, EXPIRY_TIME, PRINCIPAL_NAME)\nVALUES (?, ?, ?, ?, ?, ?, ?)\n";
    String createAttribute = "INSERT INTO " + table + "_ATTRIBUTES (SESSION_PRIMARY_ID, ATTRIBUTE_NAME, ATTRIBUTE_BYTES)\nVALUES (?, ?, ?)\n";
    // PostgreSqlJdbcIndexedSessionRepositoryCustomizer's CREATE_SESSION_ATTRIBUTE_QUERY (the same rows, by SESSION_ID, upserted)
    boolean pg = postgres(params);
    if (pg) {
      createAttribute = "INSERT INTO " + table + "_ATTRIBUTES (SESSION_PRIMARY_ID, ATTRIBUTE_NAME, ATTRIBUTE_BYTES) "
          + "    SELECT PRIMARY_ID, ?, ? "
          + "    FROM " + table + " "
          + "    WHERE SESSION_ID = ? "
          + "ON CONFLICT (SESSION_PRIMARY_ID, ATTRIBUTE_NAME) "
          + "DO UPDATE SET ATTRIBUTE_BYTES = EXCLUDED.ATTRIBUTE_BYTES";
    }
    List<Object> answer = new ArrayList<>();
    try (Connection c = connect(params)) {
      c.setAutoCommit(false);
      for (SpringSession s : sessions(params, now)) {
        try {
          try (PreparedStatement ps = c.prepareStatement(createSession)) {
            ps.setString(1, s.primaryId);
            ps.setString(2, s.id);
            ps.setLong(3, s.creationTime);
            ps.setLong(4, s.lastAccessedTime);
            ps.setInt(5, s.maxInactiveInterval);
            ps.setLong(6, s.jdbcExpiryTime());
            ps.setString(7, s.principalName());
            ps.executeUpdate();
          }
          List<String> names = new ArrayList<>(s.attributes.keySet());
          try (PreparedStatement ps = c.prepareStatement(createAttribute)) {
            // insertSessionAttributes: a batch when more than one, else one update
            for (String name : names) {
              if (pg) {
                ps.setString(1, name);
                ps.setBytes(2, jdk(s.attributes.get(name)));
                ps.setString(3, s.id);
              } else {
                ps.setString(1, s.primaryId);
                ps.setString(2, name);
                ps.setBytes(3, jdk(s.attributes.get(name)));
              }
              if (names.size() > 1) ps.addBatch();
              else ps.executeUpdate();
            }
            if (names.size() > 1) ps.executeBatch();
          }
          c.commit();
        } catch (Exception e) {
          c.rollback();
          throw e;
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", s.id);
        row.put("primaryId", s.primaryId);
        row.put("principal", s.principalName());
        row.put("creationTime", s.creationTime);
        row.put("lastAccessTime", s.lastAccessedTime);
        row.put("expiryTime", Long.toString(s.jdbcExpiryTime()));
        row.put("expired", s.isExpired(now));
        answer.add(row);
      }
    }
    return answer;
  }

  static Object jdbcState(Map<String, Object> params) throws Exception {
    String table = table(params);
    Map<String, Map<String, Object>> byPrimary = new LinkedHashMap<>();
    List<Object> sessions = new ArrayList<>();
    long orphans;
    try (Connection c = connect(params); Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT PRIMARY_ID, SESSION_ID, CREATION_TIME, LAST_ACCESS_TIME, MAX_INACTIVE_INTERVAL, EXPIRY_TIME, PRINCIPAL_NAME FROM "
          + table + " ORDER BY SESSION_ID, PRIMARY_ID")) {
        while (rs.next()) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("id", rs.getString("SESSION_ID"));
          row.put("primaryId", rs.getString("PRIMARY_ID"));
          row.put("principal", rs.getString("PRINCIPAL_NAME"));
          row.put("creationTime", rs.getLong("CREATION_TIME"));
          row.put("lastAccessTime", rs.getLong("LAST_ACCESS_TIME"));
          row.put("expiryTime", Long.toString(rs.getLong("EXPIRY_TIME")));
          row.put("maxInactive", rs.getInt("MAX_INACTIVE_INTERVAL"));
          row.put("attributes", new ArrayList<String>());
          row.put("principalAttribute", null);
          byPrimary.put(rs.getString("PRIMARY_ID"), row);
          sessions.add(row);
        }
      }
      try (ResultSet rs = st.executeQuery("SELECT SESSION_PRIMARY_ID, ATTRIBUTE_NAME, ATTRIBUTE_BYTES FROM " + table
          + "_ATTRIBUTES ORDER BY SESSION_PRIMARY_ID, ATTRIBUTE_NAME")) {
        while (rs.next()) {
          Map<String, Object> row = byPrimary.get(rs.getString(1));
          if (row == null) continue;
          @SuppressWarnings("unchecked")
          List<String> names = (List<String>) row.get("attributes");
          names.add(rs.getString(2));
          if (PRINCIPAL_NAME_INDEX_NAME.equals(rs.getString(2))) row.put("principalAttribute", jdkString(rs.getBytes(3)));
        }
      }
      try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM " + table + "_ATTRIBUTES SA LEFT JOIN " + table
          + " S ON S.PRIMARY_ID = SA.SESSION_PRIMARY_ID WHERE S.PRIMARY_ID IS NULL")) {
        rs.next();
        orphans = rs.getLong(1);
      }
    }
    for (Object row : sessions) {
      @SuppressWarnings("unchecked")
      List<String> names = (List<String>) ((Map<String, Object>) row).get("attributes");
      java.util.Collections.sort(names); // binary order, not the column's collation
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("sessions", sessions);
    answer.put("orphanAttributes", orphans);
    return answer;
  }

  /**
   * findByIndexNameAndIndexValue(PRINCIPAL_NAME_INDEX_NAME, principal): Spring's
   * LIST_SESSIONS_BY_PRINCIPAL_NAME_QUERY, its SessionResultSetExtractor, then a map by SESSION_ID.
   * The comparison is the column's collation: under MariaDB's default utf8mb4_general_ci (or
   * latin1_swedish_ci) `WHERE S.PRINCIPAL_NAME = 'alice'` also matches 'Alice', 'ALICE' and 'alice '
   * (PAD SPACE), so Spring returns those sessions for alice. Spring does NOT filter out expired
   * sessions here (findById does, this does not): every row still in the table comes back; each
   * answer carries `expired` (MapSession.isExpired) for callers who want only live ones.
   */
  static Object jdbcFindByPrincipal(Map<String, Object> params) throws Exception {
    String table = table(params);
    long now = now(params);
    String query = "SELECT S.PRIMARY_ID, S.SESSION_ID, S.CREATION_TIME, S.LAST_ACCESS_TIME, S.MAX_INACTIVE_INTERVAL, SA.ATTRIBUTE_NAME, SA.ATTRIBUTE_BYTES\n"
        + "FROM " + table + " S\nLEFT JOIN " + table + "_ATTRIBUTES SA ON S.PRIMARY_ID = SA.SESSION_PRIMARY_ID\nWHERE S.PRINCIPAL_NAME = ?\n";
    Map<String, Map<String, Object>> byId = new LinkedHashMap<>();
    try (Connection c = connect(params)) {
      c.setAutoCommit(false); // transactionOperations.execute
      try (PreparedStatement ps = c.prepareStatement(query)) {
        ps.setString(1, (String) params.get("principal"));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            String id = rs.getString("SESSION_ID");
            Map<String, Object> s = byId.get(id);
            if (s == null) {
              s = new LinkedHashMap<>();
              s.put("id", id);
              s.put("primaryId", rs.getString("PRIMARY_ID"));
              s.put("expired", isExpiredAt(rs.getInt("MAX_INACTIVE_INTERVAL"), rs.getLong("LAST_ACCESS_TIME"), now));
              s.put("principalAttribute", null);
              byId.put(id, s);
            }
            if (PRINCIPAL_NAME_INDEX_NAME.equals(rs.getString("ATTRIBUTE_NAME"))) s.put("principalAttribute", jdkString(rs.getBytes("ATTRIBUTE_BYTES")));
          }
        }
      }
      c.commit();
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("sessions", new ArrayList<>(byId.values()));
    return answer;
  }

  // ------------------------------------------------------------------------------------------
  // Redis (RedisIndexedSessionRepository, RedisSessionRepository)

  static Resp redis(Map<String, Object> params) throws IOException {
    @SuppressWarnings("unchecked")
    Map<String, Object> r = (Map<String, Object>) params.get("redis");
    Resp resp = new Resp((String) r.get("host"), ((Number) r.get("port")).intValue());
    String password = str(r, "password", "");
    String user = str(r, "user", "");
    if (!password.isEmpty()) {
      if (user.isEmpty()) resp.call("AUTH", password);
      else resp.call("AUTH", user, password);
    }
    long db = r.get("db") == null ? 0 : ((Number) r.get("db")).longValue();
    if (db != 0) resp.call("SELECT", Long.toString(db));
    return resp;
  }

  /** MinuteBasedRedisSessionExpirationStore.roundUpToNextMinute. */
  static long roundUpToNextMinute(long ms) {
    return Instant.ofEpochMilli(ms).plus(1, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.MINUTES).toEpochMilli();
  }

  static String principalKey(String ns, String principal) {
    return ns + "index:" + PRINCIPAL_NAME_INDEX_NAME + ":" + principal;
  }

  /**
   * Replays saveDelta() of a new session. Spring sets every TTL relative to the moment of the save,
   * which for a session last accessed `ago` ms ago was `ago` ms before now: so each relative TTL is
   * shortened by `ago`, and a key whose TTL would have run out is not written (Redis would have
   * expired it). The principal index set has no TTL: its member is written even when everything else
   * has run out (the app was not running to process the expired event, the drift Spring knows).
   *
   * `layout` "3.4" (3.4.0 … 4.x, MinuteBasedRedisSessionExpirationStore, the default) or "3.3"
   * (≤ 3.3.x, RedisSessionExpirationPolicy.onExpirationUpdated). They differ in two ways:
   * - 3.4 calls EXPIRE on the expirations set BEFORE SADD, so the first member of a minute's set
   *   leaves it without TTL (spring-session#3477); 3.3 did SADD then EXPIRE.
   * - a negative maxInactiveInterval: 3.3 persists the hash and an "" shadow key and adds no
   *   expirations member; 3.4 persists both, then (its `else` branch) APPENDs and PEXPIREs the shadow
   *   key by a negative time (Redis deletes it), PEXPIREs the hash to 299 s and adds an expirations
   *   member for lastAccess − 1 s (spring-session#3320, #3362).
   */
  static Object redisWrite(Map<String, Object> params) throws Exception {
    long now = now(params);
    String ns = str(params, "namespace", "spring:session:");
    boolean indexed = params.get("indexed") == null || Boolean.TRUE.equals(params.get("indexed"));
    String layout = str(params, "layout", "3.4");
    if (!layout.equals("3.4") && !layout.equals("3.3")) throw new IllegalArgumentException("layout must be 3.4 or 3.3");
    List<Object> answer = new ArrayList<>();
    try (Resp r = redis(params)) {
      for (SpringSession s : sessions(params, now)) {
        String hashKey = ns + "sessions:" + s.id;
        String shadowKey = ns + "sessions:expires:" + s.id;
        long ago = now - s.lastAccessedTime;
        long interval = s.maxInactiveInterval;
        // The delta of a new RedisSession: a HashMap, so HMSET's field order is HashMap order.
        Map<String, Object> delta = new HashMap<>();
        delta.put("creationTime", s.creationTime);
        delta.put("maxInactiveInterval", s.maxInactiveInterval);
        delta.put("lastAccessedTime", s.lastAccessedTime);
        for (Map.Entry<String, Object> e : s.attributes.entrySet()) delta.put("sessionAttr:" + e.getKey(), e.getValue());
        List<Object> hmset = new ArrayList<>();
        hmset.add("HMSET");
        hmset.add(hashKey);
        for (Map.Entry<String, Object> e : delta.entrySet()) {
          hmset.add(e.getKey());
          hmset.add(jdk(e.getValue()));
        }
        boolean stored;
        Long expiresAt = interval < 0 ? null : s.lastAccessedTime + interval * 1000L;
        if (!indexed) {
          // RedisSessionRepository.saveDelta: HMSET + EXPIREAT(lastAccessed + maxInactive) (a PEXPIREAT;
          // a time in the past, e.g. a negative interval, makes Redis delete the key at once).
          r.call(hmset.toArray());
          r.call("PEXPIREAT", hashKey, Long.toString(s.lastAccessedTime + interval * 1000L));
          stored = ((Long) r.call("EXISTS", hashKey)) == 1L;
        } else {
          String principal = s.principalName();
          long hashTtl = (interval + 300) * 1000L - ago; // fiveMinutesAfterExpires, what is left of it now
          boolean hashLives = (interval < 0 && layout.equals("3.3")) || hashTtl > 0;
          if (!hashLives) {
            if (principal != null) r.call("SADD", principalKey(ns, principal), jdk(s.id));
            stored = false;
          } else {
            r.call(hmset.toArray());
            if (principal != null) r.call("SADD", principalKey(ns, principal), jdk(s.id));
            String expirationsKey = ns + "expirations:" + roundUpToNextMinute(s.lastAccessedTime + interval * 1000L);
            byte[] member = jdk("expires:" + s.id);
            long shadowTtl = interval * 1000L - ago;
            if (layout.equals("3.3")) {
              if (interval < 0) {
                r.call("APPEND", shadowKey, "");
                r.call("PERSIST", shadowKey);
                r.call("PERSIST", hashKey);
              } else {
                r.call("SADD", expirationsKey, member);
                r.call("PEXPIRE", expirationsKey, Long.toString(hashTtl));
                if (interval == 0 || shadowTtl <= 0) r.call("DEL", shadowKey);
                else {
                  r.call("APPEND", shadowKey, "");
                  r.call("PEXPIRE", shadowKey, Long.toString(shadowTtl));
                }
                r.call("PEXPIRE", hashKey, Long.toString(hashTtl));
              }
            } else {
              // createShadowKey(sessionExpireInSeconds)
              if (interval < 0) {
                r.call("APPEND", shadowKey, "");
                r.call("PERSIST", shadowKey);
                r.call("PERSIST", hashKey);
              }
              if (interval == 0) r.call("DEL", shadowKey);
              else if (shadowTtl > 0) {
                r.call("APPEND", shadowKey, "");
                r.call("PEXPIRE", shadowKey, Long.toString(shadowTtl));
              } else {
                r.call("DEL", shadowKey); // APPEND then PEXPIRE by a time already past
              }
              r.call("PEXPIRE", hashKey, Long.toString(hashTtl));
              // expirationStore.save(this)
              r.call("PEXPIRE", expirationsKey, Long.toString(hashTtl));
              r.call("SADD", expirationsKey, member);
            }
            stored = true;
          }
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", s.id);
        row.put("hashKey", hashKey);
        row.put("expiresAtMs", expiresAt);
        row.put("stored", stored);
        row.put("principal", s.principalName());
        answer.add(row);
      }
      @SuppressWarnings("unchecked")
      List<Object> stale = (List<Object>) params.get("staleIndexMembers");
      if (stale != null) {
        for (Object o : stale) {
          @SuppressWarnings("unchecked")
          Map<String, Object> m = (Map<String, Object>) o;
          r.call("SADD", principalKey(ns, (String) m.get("principal")), jdk((String) m.get("id")));
        }
      }
    }
    return answer;
  }

  @SuppressWarnings("unchecked")
  static Object redisState(Map<String, Object> params) throws Exception {
    String ns = str(params, "namespace", "spring:session:");
    String sessionsPrefix = ns + "sessions:";
    String shadowPrefix = ns + "sessions:expires:";
    String indexPrefix = ns + "index:" + PRINCIPAL_NAME_INDEX_NAME + ":";
    String expirationsPrefix = ns + "expirations:";
    List<String> keys = new ArrayList<>();
    List<Object> hashes = new ArrayList<>();
    List<Object> shadows = new ArrayList<>();
    Map<String, Object> index = new TreeMap<>();
    Map<String, Object> expirations = new TreeMap<>();
    Map<String, Object> expirationsPttl = new TreeMap<>();
    List<String> other = new ArrayList<>();
    try (Resp r = redis(params)) {
      String cursor = "0";
      do {
        List<Object> reply = (List<Object>) r.call("SCAN", cursor, "MATCH", globEscape(ns) + "*", "COUNT", "1000");
        cursor = new String((byte[]) reply.get(0), StandardCharsets.UTF_8);
        for (Object k : (List<Object>) reply.get(1)) keys.add(new String((byte[]) k, StandardCharsets.UTF_8));
      } while (!cursor.equals("0"));
      keys = new ArrayList<>(new java.util.TreeSet<>(keys));
      for (String key : keys) {
        String type = (String) r.call("TYPE", key);
        long pttl = (Long) r.call("PTTL", key);
        if (key.startsWith(shadowPrefix) && type.equals("string")) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("id", key.substring(shadowPrefix.length()));
          row.put("pttl", pttl);
          row.put("value", new String((byte[]) r.call("GET", key), StandardCharsets.UTF_8));
          shadows.add(row);
        } else if (key.startsWith(sessionsPrefix) && !key.startsWith(shadowPrefix) && type.equals("hash")) {
          List<Object> flat = (List<Object>) r.call("HGETALL", key);
          List<String> fields = new ArrayList<>();
          Map<String, byte[]> values = new HashMap<>();
          for (int i = 0; i < flat.size(); i += 2) {
            String field = new String((byte[]) flat.get(i), StandardCharsets.UTF_8);
            fields.add(field);
            values.put(field, (byte[]) flat.get(i + 1));
          }
          java.util.Collections.sort(fields);
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("id", key.substring(sessionsPrefix.length()));
          row.put("pttl", pttl);
          row.put("fields", fields);
          row.put("principal", principalOf(values));
          row.put("lastAccessedTime", numberField(values.get("lastAccessedTime")));
          row.put("maxInactiveInterval", numberField(values.get("maxInactiveInterval")));
          hashes.add(row);
        } else if (key.startsWith(indexPrefix) && type.equals("set")) {
          index.put(key.substring(indexPrefix.length()), members(r, key));
        } else if (key.startsWith(expirationsPrefix) && type.equals("set")) {
          expirations.put(key, members(r, key));
          expirationsPttl.put(key, pttl);
        } else {
          other.add(key);
        }
      }
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("hashes", hashes);
    answer.put("shadows", shadows);
    answer.put("index", index);
    answer.put("expirations", expirations);
    answer.put("expirationsPttl", expirationsPttl);
    answer.put("otherKeys", other);
    return answer;
  }

  /** PrincipalNameIndexResolver over the hash (the JDK reading its own data). */
  static String principalOf(Map<String, byte[]> values) {
    try {
      byte[] name = values.get("sessionAttr:" + PRINCIPAL_NAME_INDEX_NAME);
      if (name != null) return (String) unjdk(name);
      byte[] context = values.get("sessionAttr:" + SPRING_SECURITY_CONTEXT);
      if (context != null) return nameOf(unjdk(context));
    } catch (Exception e) {
      return null;
    }
    return null;
  }

  static Object numberField(byte[] bytes) {
    if (bytes == null) return null;
    try {
      Object o = unjdk(bytes);
      return o instanceof Number ? ((Number) o).longValue() : null;
    } catch (Exception e) {
      return null;
    }
  }

  @SuppressWarnings("unchecked")
  static List<String> members(Resp r, String key) throws IOException {
    List<String> out = new ArrayList<>();
    for (Object m : (List<Object>) r.call("SMEMBERS", key)) out.add(jdkString((byte[]) m));
    java.util.Collections.sort(out);
    return out;
  }

  static String globEscape(String s) {
    return s.replaceAll("([*?\\[\\]\\\\])", "\\\\$1");
  }

  /** A minimal RESP2 client: commands as arrays of bulk strings, replies parsed by type. */
  static final class Resp implements Closeable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    Resp(String host, int port) throws IOException {
      this.socket = new Socket();
      this.socket.connect(new InetSocketAddress(host, port), 5000);
      this.socket.setSoTimeout(30_000);
      this.in = new java.io.BufferedInputStream(this.socket.getInputStream());
      this.out = new java.io.BufferedOutputStream(this.socket.getOutputStream());
    }

    /** Arguments are byte[] (sent as is) or anything else (its toString in UTF-8). A -ERR reply throws. */
    Object call(Object... args) throws IOException {
      ByteArrayOutputStream cmd = new ByteArrayOutputStream();
      cmd.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
      for (Object a : args) {
        byte[] b = a instanceof byte[] ? (byte[]) a : a.toString().getBytes(StandardCharsets.UTF_8);
        cmd.write(("$" + b.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
        cmd.write(b);
        cmd.write('\r');
        cmd.write('\n');
      }
      this.out.write(cmd.toByteArray());
      this.out.flush();
      Object reply = read();
      if (reply instanceof RespError) throw new IOException("redis " + args[0] + ": " + ((RespError) reply).message);
      return reply;
    }

    private Object read() throws IOException {
      int type = this.in.read();
      if (type < 0) throw new IOException("redis closed the connection");
      String line = readLine();
      switch (type) {
        case '+': return line;
        case '-': return new RespError(line);
        case ':': return Long.parseLong(line);
        case '$': {
          int len = Integer.parseInt(line);
          if (len < 0) return null;
          byte[] b = this.in.readNBytes(len);
          if (b.length != len) throw new IOException("short bulk reply");
          readLine();
          return b;
        }
        case '*': {
          int n = Integer.parseInt(line);
          if (n < 0) return null;
          List<Object> items = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            Object item = read();
            if (item instanceof RespError) throw new IOException("redis: " + ((RespError) item).message);
            items.add(item);
          }
          return items;
        }
        default: throw new IOException("bad RESP type byte " + type);
      }
    }

    private String readLine() throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      int c;
      while ((c = this.in.read()) != '\r') {
        if (c < 0) throw new IOException("redis closed the connection");
        b.write(c);
      }
      if (this.in.read() != '\n') throw new IOException("bad RESP line ending");
      return b.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
      this.socket.close();
    }
  }

  static final class RespError {
    final String message;

    RespError(String message) {
      this.message = message;
    }
  }

  // ------------------------------------------------------------------------------------------
  // JSON

  static final class Json {
    private final String s;
    private int i;

    Json(String s) {
      this.s = s;
    }

    Object parseDocument() {
      Object v = value();
      ws();
      if (this.i != this.s.length()) throw error("trailing characters");
      return v;
    }

    private IllegalArgumentException error(String what) {
      return new IllegalArgumentException("JSON: " + what + " at " + this.i);
    }

    private void ws() {
      while (this.i < this.s.length() && " \t\r\n".indexOf(this.s.charAt(this.i)) >= 0) this.i++;
    }

    private Object value() {
      ws();
      if (this.i >= this.s.length()) throw error("unexpected end");
      char c = this.s.charAt(this.i);
      switch (c) {
        case '{': return object();
        case '[': return array();
        case '"': return string();
        case 't': return literal("true", Boolean.TRUE);
        case 'f': return literal("false", Boolean.FALSE);
        case 'n': return literal("null", null);
        default: return number();
      }
    }

    private Object literal(String word, Object v) {
      if (!this.s.startsWith(word, this.i)) throw error("bad literal");
      this.i += word.length();
      return v;
    }

    private Object object() {
      Map<String, Object> m = new LinkedHashMap<>();
      this.i++;
      ws();
      if (this.s.charAt(this.i) == '}') {
        this.i++;
        return m;
      }
      while (true) {
        ws();
        if (this.s.charAt(this.i) != '"') throw error("expected a key");
        String k = string();
        ws();
        if (this.s.charAt(this.i++) != ':') throw error("expected :");
        m.put(k, value());
        ws();
        char c = this.s.charAt(this.i++);
        if (c == '}') break;
        if (c != ',') throw error("expected , or }");
      }
      // {__int: '…'}: runOracle's bigint
      if (m.size() == 1 && m.get("__int") instanceof String) return Long.parseLong((String) m.get("__int"));
      return m;
    }

    private List<Object> array() {
      List<Object> l = new ArrayList<>();
      this.i++;
      ws();
      if (this.s.charAt(this.i) == ']') {
        this.i++;
        return l;
      }
      while (true) {
        l.add(value());
        ws();
        char c = this.s.charAt(this.i++);
        if (c == ']') break;
        if (c != ',') throw error("expected , or ]");
      }
      return l;
    }

    private String string() {
      StringBuilder b = new StringBuilder();
      this.i++;
      while (true) {
        if (this.i >= this.s.length()) throw error("unterminated string");
        char c = this.s.charAt(this.i++);
        if (c == '"') return b.toString();
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = this.s.charAt(this.i++);
        switch (e) {
          case '"': b.append('"'); break;
          case '\\': b.append('\\'); break;
          case '/': b.append('/'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'n': b.append('\n'); break;
          case 'r': b.append('\r'); break;
          case 't': b.append('\t'); break;
          case 'u':
            b.append((char) Integer.parseInt(this.s.substring(this.i, this.i + 4), 16));
            this.i += 4;
            break;
          default: throw error("bad escape");
        }
      }
    }

    private Object number() {
      int start = this.i;
      while (this.i < this.s.length() && "+-0123456789.eE".indexOf(this.s.charAt(this.i)) >= 0) this.i++;
      String n = this.s.substring(start, this.i);
      if (n.isEmpty()) throw error("unexpected character");
      if (n.matches("-?\\d+")) {
        try {
          return Long.parseLong(n);
        } catch (NumberFormatException ex) {
          return Double.parseDouble(n);
        }
      }
      return Double.parseDouble(n);
    }

    static void write(Object v, StringBuilder b) {
      if (v == null) b.append("null");
      else if (v instanceof String) quote((String) v, b);
      else if (v instanceof Boolean || v instanceof Long || v instanceof Integer) b.append(v);
      else if (v instanceof Number) {
        double d = ((Number) v).doubleValue();
        if (Double.isNaN(d) || Double.isInfinite(d)) b.append("null");
        else b.append(d);
      } else if (v instanceof Map) {
        b.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
          if (!first) b.append(',');
          first = false;
          quote(e.getKey().toString(), b);
          b.append(':');
          write(e.getValue(), b);
        }
        b.append('}');
      } else if (v instanceof List) {
        b.append('[');
        boolean first = true;
        for (Object o : (List<?>) v) {
          if (!first) b.append(',');
          first = false;
          write(o, b);
        }
        b.append(']');
      } else {
        quote(v.toString(), b);
      }
    }

    static void quote(String s, StringBuilder b) {
      b.append('"');
      for (int k = 0; k < s.length(); k++) {
        char c = s.charAt(k);
        switch (c) {
          case '"': b.append("\\\""); break;
          case '\\': b.append("\\\\"); break;
          case '\n': b.append("\\n"); break;
          case '\r': b.append("\\r"); break;
          case '\t': b.append("\\t"); break;
          default:
            if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff && !validSurrogate(s, k))) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
      }
      b.append('"');
    }

    /** A surrogate that is half of a pair is copied; a lone one is escaped (UTF-8 cannot carry it). */
    private static boolean validSurrogate(String s, int k) {
      char c = s.charAt(k);
      if (Character.isHighSurrogate(c)) return k + 1 < s.length() && Character.isLowSurrogate(s.charAt(k + 1));
      return k > 0 && Character.isHighSurrogate(s.charAt(k - 1));
    }
  }
}
