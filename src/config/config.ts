import { Type, type StaticDecode, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { OCPI_TOKEN_TYPES, PARTY_PATTERN, parseParty } from '../contract/ocpi.js';
import { DEFAULT_SCHEMA } from '../lib/pg-defaults.js';
import {
  acceptedValues,
  duration,
  durations,
  flag,
  integer,
  longText,
  matching,
  oneOf,
  presentVariables,
  secrets,
  text,
  url,
} from './variables.js';

export { parseDuration } from './variables.js';

/**
 * Chargegate's configuration: every environment variable it reads, parsed once at start by one
 * TypeBox schema, from which the `Config` type is derived. `process.env` is read nowhere else.
 * What each variable means is in `docs.ts`; `npm run docs` generates the table in
 * docs/configuration.md from both.
 */

/** Delays between callback attempts: seven attempts spread over about an hour, long enough to
 * ride out a receiver's deploy or short outage, short enough that a decision is still useful. */
export const DEFAULT_CALLBACK_RETRY_SCHEDULE = '5s,30s,2m,10m,15m,30m';

/** A driver waits at the station: after 5 s the app should hear `unknown` rather than nothing. */
export const DEFAULT_AUTH_TIMEOUT_MS = 5_000;

/** Enough parallel calls to hide the ACL's latency, few enough not to overload it. */
export const DEFAULT_AUTH_MAX_IN_FLIGHT = 32;

/** A receiver that has not answered in 10 s is treated as down; the attempt is retried. */
export const DEFAULT_CALLBACK_TIMEOUT_MS = 10_000;

/** Parallel callback deliveries per process: receivers are slow, so this is well above the
 * authorization limit, and bounded so a flood of slow receivers cannot exhaust sockets. */
export const DEFAULT_CALLBACK_MAX_IN_FLIGHT = 128;

/** Parallel deliveries to one receiver (origin): a quarter of the total, so a hanging receiver
 * leaves three quarters of the slots to the others, while the usual single app backend still
 * gets enough parallelism for thousands of callbacks per second. */
export const DEFAULT_CALLBACK_MAX_PER_HOST = 32;

/** Dead letters (which keep the raw driver token for a replay) are purged after this. A week
 * covers a long weekend's outage of a receiver plus the time to notice and replay. */
export const DEFAULT_DEAD_LETTER_RETENTION = '7d';

/** Finished sessions (callback delivered, gone or dead-lettered) are deleted this long after
 * their last activity: a month of history for debugging, without keeping personal data (token
 * hashes) or growing the store forever. */
export const DEFAULT_SESSION_RETENTION = '30d';
/** A reservation holds a charging point: longer than a long charge plus parking is hoarding. */
export const DEFAULT_RESERVATION_MAX_LENGTH = '4h';
/** Far enough for a trip planned a month ahead; the capacity check scans this window at most. */
export const DEFAULT_RESERVATION_MAX_AHEAD = '30d';

/** Requests accepted but not yet decided. Past it, `POST` answers 503: better to push back than
 * to accept work that would be decided long after the driver has left the station. */
export const DEFAULT_MAX_BACKLOG = 100_000;

/** Consecutive failed calls (timeouts, errors, bad answers) that open the circuit: few enough
 * to react within seconds of an outage, enough that one slow call does not trip it. */
export const DEFAULT_AUTH_CIRCUIT_FAILURE_THRESHOLD = 5;

/** How long an open circuit refuses calls before one probe is let through. */
export const DEFAULT_AUTH_CIRCUIT_OPEN_MS = 10_000;

/** Time SIGTERM gives in-flight work before the process exits anyway. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 15_000;

/** A client must have sent its whole request (headers and body, at most 16 KiB) within this:
 * ample for any real client, short enough that a slow-drip client cannot hold a socket. */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 20_000;

/** Open connections to the public API, in all and per client address. The per-address bound is
 * far above what a backend's connection pool (or a load balancer's) keeps open, yet stops one
 * host from taking them all. */
export const DEFAULT_HTTP_MAX_CONNECTIONS = 10_000;
export const DEFAULT_HTTP_MAX_CONNECTIONS_PER_CLIENT = 1_000;

/** A POST is stored within this or refused with 503; a write that lands later is not stored.
 * Leaves the answer within 2 s even when the queue or store has stopped answering. */
export const DEFAULT_ACCEPT_TIMEOUT_MS = 1_500;

/** A Redis command that has not answered in this long fails: Redis answers in microseconds, so
 * this is only ever reached when the server or the network has stalled. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

/** A PostgreSQL statement that has not answered in this long fails (client side, and on the
 * server as `statement_timeout`). The slowest statement is a purge of 1,000 rows. */
export const DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS = 5_000;

/** Decisions are not reused unless asked: a cache keeps a blocked token allowed until its
 * entry expires, a trade-off an operator makes knowingly. */
export const DEFAULT_AUTH_CACHE_TTL = '0';

/** A day: long enough to ride out an eMSP's outage overnight, short enough that a driver's
 * standing is at most a day old. */
export const DEFAULT_AUTH_OFFLINE_MAX_AGE = '24h';

/** Sent as `?type=`: Chargegate's drivers start sessions from an app. */
export const DEFAULT_AUTH_OCPI_TOKEN_TYPE = 'APP_USER';

/** Every variable Chargegate reads: its name, kind, bounds and default. */
const schema = Type.Object({
  PORT: integer(0, 65535, { default: 8080 }),
  WORKER_PORT: Type.Optional(integer(0, 65535)),
  HOST: text({ default: '0.0.0.0' }),
  DATA_DIR: text({ default: './data' }),
  REDIS_URL: Type.Optional(url(['redis:', 'rediss:'])),
  DATABASE_URL: Type.Optional(url(['postgres:', 'postgresql:'])),
  AUTH_SERVICE_URL: Type.Optional(url(['http:', 'https:'])),
  AUTH_SERVICE_PORT: integer(0, 65535, { default: 8081 }),
  AUTH_SERVICE_HOST: text({ default: '127.0.0.1' }),
  AUTH_TIMEOUT_MS: integer(1, 600_000, { default: DEFAULT_AUTH_TIMEOUT_MS }),
  AUTH_MAX_IN_FLIGHT: integer(1, 10_000, { default: DEFAULT_AUTH_MAX_IN_FLIGHT }),
  AUTH_RATE_LIMIT_PER_SEC: Type.Optional(integer(1, 1_000_000)),
  AUTH_CIRCUIT_FAILURE_THRESHOLD: integer(1, 10_000, {
    default: DEFAULT_AUTH_CIRCUIT_FAILURE_THRESHOLD,
  }),
  AUTH_CIRCUIT_OPEN_MS: integer(100, 3_600_000, { default: DEFAULT_AUTH_CIRCUIT_OPEN_MS }),
  AUTH_PROTOCOL: oneOf(['chargegate', 'ocpi'], { default: 'chargegate' }),
  AUTH_OCPI_TOKEN: Type.Optional(
    matching(/^[\x21-\x7e]{1,255}$/, '1 to 255 printable ASCII characters'),
  ),
  AUTH_OCPI_TOKEN_TYPE: oneOf(OCPI_TOKEN_TYPES, { default: DEFAULT_AUTH_OCPI_TOKEN_TYPE }),
  AUTH_OCPI_FROM: Type.Optional(party('CC-PID, e.g. NL-CPO')),
  AUTH_OCPI_TO: Type.Optional(party('CC-PID, e.g. NL-EMS')),
  AUTH_CACHE_TTL: duration({ default: DEFAULT_AUTH_CACHE_TTL }),
  AUTH_OFFLINE_POLICY: oneOf(['unknown', 'last_known'], { default: 'unknown' }),
  AUTH_OFFLINE_MAX_AGE: duration({ default: DEFAULT_AUTH_OFFLINE_MAX_AGE }),
  REQUEST_DEADLINE_MS: Type.Optional(integer(1, 86_400_000)),
  ACL_FILE: Type.Optional(text()),
  TOKEN_HASH_KEY: Type.Optional(longText(32)),
  WEBHOOK_SECRET: Type.Optional(secrets()),
  CALLBACK_TIMEOUT_MS: integer(1, 600_000, { default: DEFAULT_CALLBACK_TIMEOUT_MS }),
  CALLBACK_RETRY_SCHEDULE: durations({ default: DEFAULT_CALLBACK_RETRY_SCHEDULE }),
  CALLBACK_MAX_IN_FLIGHT: integer(1, 10_000, { default: DEFAULT_CALLBACK_MAX_IN_FLIGHT }),
  CALLBACK_MAX_PER_HOST: integer(1, 10_000, { default: DEFAULT_CALLBACK_MAX_PER_HOST }),
  CALLBACK_ALLOW_PRIVATE_NETWORKS: flag({ default: 'false' }),
  CALLBACK_REQUIRE_HTTPS: flag({ default: 'false' }),
  DEAD_LETTER_RETENTION: duration({ default: DEFAULT_DEAD_LETTER_RETENTION }),
  SESSION_RETENTION: duration({ default: DEFAULT_SESSION_RETENTION }),
  STATION_CATALOG_STRICT: flag({ default: 'false' }),
  STATIONS_FILE: Type.Optional(text()),
  RESERVATION_MAX_LENGTH: duration({ default: DEFAULT_RESERVATION_MAX_LENGTH }),
  RESERVATION_MAX_AHEAD: duration({ default: DEFAULT_RESERVATION_MAX_AHEAD }),
  MAX_BACKLOG: integer(1, 100_000_000, { default: DEFAULT_MAX_BACKLOG }),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000, { default: DEFAULT_SHUTDOWN_TIMEOUT_MS }),
  HTTP_REQUEST_TIMEOUT_MS: integer(1_000, 600_000, { default: DEFAULT_HTTP_REQUEST_TIMEOUT_MS }),
  HTTP_MAX_CONNECTIONS: integer(1, 1_000_000, { default: DEFAULT_HTTP_MAX_CONNECTIONS }),
  HTTP_MAX_CONNECTIONS_PER_CLIENT: integer(1, 1_000_000, {
    default: DEFAULT_HTTP_MAX_CONNECTIONS_PER_CLIENT,
  }),
  API_RATE_LIMIT_PER_SEC: Type.Optional(integer(1, 1_000_000)),
  ACCEPT_TIMEOUT_MS: integer(100, 60_000, { default: DEFAULT_ACCEPT_TIMEOUT_MS }),
  REDIS_COMMAND_TIMEOUT_MS: integer(100, 600_000, { default: DEFAULT_REDIS_COMMAND_TIMEOUT_MS }),
  DATABASE_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000, {
    default: DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS,
  }),
  METRICS_PORT: Type.Optional(integer(0, 65535)),
  QUEUE_PARTITIONS: integer(1, 1_024, { default: 1 }),
  REDIS_KEY_PREFIX: matching(/^[A-Za-z0-9:_.-]{1,64}$/, '1 to 64 of A-Z a-z 0-9 : _ . -', {
    default: 'chargegate',
  }),
  DATABASE_SCHEMA: matching(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier', {
    default: DEFAULT_SCHEMA,
  }),
  SQLITE_SYNCHRONOUS: oneOf(['normal', 'full'], { default: 'normal' }),
  // `auto`: worker threads when there is a second core, so that a `202` never waits behind
  // deciding (docs/performance.md, `WORKER_THREAD`, has the figures); `false` keeps everything
  // on one thread.
  WORKER_THREAD: oneOf(['auto', 'true', 'false'], { default: 'auto' }),
  ADMIN_TOKEN: Type.Optional(longText(16)),
  ACL_ADMIN_TOKEN: Type.Optional(longText(16)),
  REQUIRE_CLIENTS: flag({ default: 'false' }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(url(['http:', 'https:'])),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(url(['http:', 'https:'])),
  OTEL_SERVICE_NAME: text({ default: 'chargegate' }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
  }),
});

/** The variables, checked, defaulted and decoded. */
type Env = StaticDecode<typeof schema>;

/** An OCPI party as `CC-PID`, upper-cased. */
function party(expected: string) {
  return Type.Decode(matching(PARTY_PATTERN, expected), parseParty);
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A rule across variables, checked once every variable it reads is itself valid. */
interface Rule {
  reads: readonly ConfigName[];
  problem(e: Env): string | null;
}

/**
 * Distributed mode runs processes on several hosts that share no DATA_DIR, so what they must
 * agree on is given explicitly: the queue needs the store beside it, hashes persisted in
 * PostgreSQL need a fixed TOKEN_HASH_KEY, and workers on several hosts need one WEBHOOK_SECRET.
 * (DATABASE_URL alone is valid: the reference authorization service keeps its ACL there.)
 */
const DISTRIBUTED_RULES: Rule[] = [
  {
    reads: ['REDIS_URL', 'DATABASE_URL'],
    problem: (e) =>
      e.REDIS_URL !== undefined && e.DATABASE_URL === undefined
        ? 'DATABASE_URL: required with REDIS_URL (distributed mode needs both)'
        : null,
  },
  {
    reads: ['DATABASE_URL', 'TOKEN_HASH_KEY'],
    problem: (e) =>
      e.DATABASE_URL !== undefined && e.TOKEN_HASH_KEY === undefined
        ? 'TOKEN_HASH_KEY: required with DATABASE_URL (every process must hash tokens alike)'
        : null,
  },
  {
    reads: ['REDIS_URL', 'WEBHOOK_SECRET'],
    problem: (e) =>
      e.REDIS_URL !== undefined && e.WEBHOOK_SECRET === undefined
        ? 'WEBHOOK_SECRET: required with REDIS_URL (workers on every host must sign alike)'
        : null,
  },
];

/** A dead letter is replayed with its session: the session must not go first. */
const RETENTION_RULE: Rule = {
  reads: ['SESSION_RETENTION', 'DEAD_LETTER_RETENTION'],
  problem: (e) =>
    e.SESSION_RETENTION < e.DEAD_LETTER_RETENTION
      ? 'SESSION_RETENTION: must be at least DEAD_LETTER_RETENTION (a replay needs its session)'
      : null,
};

/** The routing headers name both parties or neither. */
const OCPI_RULE: Rule = {
  reads: ['AUTH_OCPI_FROM', 'AUTH_OCPI_TO'],
  problem: (e) => {
    if ((e.AUTH_OCPI_FROM === undefined) === (e.AUTH_OCPI_TO === undefined)) return null;
    const [missing, given] =
      e.AUTH_OCPI_FROM === undefined
        ? ['AUTH_OCPI_FROM', 'AUTH_OCPI_TO']
        : ['AUTH_OCPI_TO', 'AUTH_OCPI_FROM'];
    return `${missing}: required with ${given} (the OCPI routing headers name both parties)`;
  },
};

const RULES = [...DISTRIBUTED_RULES, RETENTION_RULE, OCPI_RULE];

/**
 * Parses the environment; throws a `ConfigError` that names every bad variable, with what it
 * accepts, and every rule across variables that the valid ones break.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const validator = Compile(schema);
  const present = presentVariables(schema, env);
  const bad = new Set<string>();
  for (const error of validator.Errors(validator.Default(present))) {
    bad.add(error.instancePath.split('/')[1] ?? '');
  }
  const valid = Object.fromEntries(Object.entries(present).filter(([name]) => !bad.has(name)));
  const e = validator.Decode(valid);
  const problems = [
    ...Object.entries(schema.properties)
      .filter(([name]) => bad.has(name))
      .map(
        ([name, variable]: [string, TSchema]) => `${name}: expected ${acceptedValues(variable)}`,
      ),
    ...RULES.filter((rule) => rule.reads.every((name) => !bad.has(name)))
      .map((rule) => rule.problem(e))
      .filter((problem) => problem !== null),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return configOf(e);
}

/** Chargegate's configuration, in the shape its parts take it. */
export type Config = ReturnType<typeof configOf>;

function configOf(e: Env) {
  return {
    port: e.PORT,
    /** `worker` command: where it serves health and metrics; unset: it listens nowhere. */
    workerPort: e.WORKER_PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    auth: {
      /** Unset: `start` runs the reference service and uses it. */
      url: e.AUTH_SERVICE_URL,
      servicePort: e.AUTH_SERVICE_PORT,
      serviceHost: e.AUTH_SERVICE_HOST,
      timeoutMs: e.AUTH_TIMEOUT_MS,
      maxInFlight: e.AUTH_MAX_IN_FLIGHT,
      /** Unset: no rate limit (the in-flight bound still applies). */
      rateLimitPerSec: e.AUTH_RATE_LIMIT_PER_SEC,
      circuitFailureThreshold: e.AUTH_CIRCUIT_FAILURE_THRESHOLD,
      circuitOpenMs: e.AUTH_CIRCUIT_OPEN_MS,
      aclFile: e.ACL_FILE,
      /** The language spoken to the service: Chargegate's contract or OCPI 2.2.1. */
      protocol: e.AUTH_PROTOCOL,
      ocpi: {
        /** The credentials token, sent by the worker and checked by the reference service;
         * unset: `start` makes one up for its in-process service. */
        token: e.AUTH_OCPI_TOKEN,
        tokenType: e.AUTH_OCPI_TOKEN_TYPE,
        /** Both or neither (`loadConfig` refuses one alone). */
        from: e.AUTH_OCPI_FROM,
        to: e.AUTH_OCPI_TO,
      },
      /** 0: decisions are not reused. */
      cacheTtlMs: e.AUTH_CACHE_TTL,
      offlinePolicy: e.AUTH_OFFLINE_POLICY,
      offlineMaxAgeMs: e.AUTH_OFFLINE_MAX_AGE,
    },
    /** Unset: no deadline; a request waits in the queue as long as it takes. */
    requestDeadlineMs: e.REQUEST_DEADLINE_MS,
    /** Unset: generated once and kept in `dataDir`. */
    tokenHashKey: e.TOKEN_HASH_KEY,
    callbacks: {
      /** Unset: generated once and kept in `dataDir`. */
      secrets: e.WEBHOOK_SECRET,
      timeoutMs: e.CALLBACK_TIMEOUT_MS,
      retryScheduleMs: e.CALLBACK_RETRY_SCHEDULE,
      maxInFlight: e.CALLBACK_MAX_IN_FLIGHT,
      maxPerHost: e.CALLBACK_MAX_PER_HOST,
      allowPrivateNetworks: e.CALLBACK_ALLOW_PRIVATE_NETWORKS,
      /** Refuse `http:` callback URLs (the production setting: tokens travel encrypted). */
      requireHttps: e.CALLBACK_REQUIRE_HTTPS,
      deadLetterRetentionMs: e.DEAD_LETTER_RETENTION,
    },
    /** Finished sessions older than this are deleted (`store/port.ts`). */
    sessionRetentionMs: e.SESSION_RETENTION,
    stations: {
      /** An unknown station is `invalid`/`unknown_station` instead of asked about. */
      strict: e.STATION_CATALOG_STRICT,
      /** Seeds an empty catalog; unset: the bundled example in embedded mode, none otherwise. */
      file: e.STATIONS_FILE,
      reservationMaxLengthMs: e.RESERVATION_MAX_LENGTH,
      reservationMaxAheadMs: e.RESERVATION_MAX_AHEAD,
    },
    maxBacklog: e.MAX_BACKLOG,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    http: {
      /** The whole request (headers and body) must arrive within this. */
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerClient: e.HTTP_MAX_CONNECTIONS_PER_CLIENT,
      /** Requests a second per client (address); unset: no limit. */
      rateLimitPerSec: e.API_RATE_LIMIT_PER_SEC,
      /** Where `/metrics` is served instead of the public port; unset: on the public port. */
      metricsPort: e.METRICS_PORT,
    },
    /** A POST is stored within this or answered 503, and then never stored. */
    acceptTimeoutMs: e.ACCEPT_TIMEOUT_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    /** Redis Streams per topic in distributed mode; each partition has its own lease and
     * delayed sets, so leasing work is spread over smaller structures. */
    queuePartitions: e.QUEUE_PARTITIONS,
    /** Prefix of every Redis key, so several deployments can share one Redis. */
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    /** PostgreSQL schema of Chargegate's tables, so several deployments can share a database. */
    databaseSchema: e.DATABASE_SCHEMA,
    /** Embedded mode: `normal` survives a process crash, `full` also a power loss. */
    sqliteSynchronous: e.SQLITE_SYNCHRONOUS,
    /** `start`: run the worker role in worker threads (`auto`: when there is more than one core). */
    workerThread: e.WORKER_THREAD,
    adminToken: e.ADMIN_TOKEN,
    /** The reference ACL service's admin API; unset: ADMIN_TOKEN, as before it existed. */
    aclAdminToken: e.ACL_ADMIN_TOKEN ?? e.ADMIN_TOKEN,
    /** The API refuses to start without an API client (the production setting). */
    requireClients: e.REQUIRE_CLIENTS,
    logLevel: e.LOG_LEVEL,
    tracing: {
      /** Where spans are POSTed (OTLP/HTTP); unset: tracing off. The standard OTLP variables:
       * the traces endpoint as is, the base one plus /v1/traces. */
      endpoint:
        e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined
          ? undefined
          : `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`),
      serviceName: e.OTEL_SERVICE_NAME,
    },
  };
}

/** The schema, for `src/config/docs.ts`, whose table of meanings must name every variable. */
export { schema as configSchema };
export type ConfigName = keyof typeof schema.properties;
