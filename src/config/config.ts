import { z } from 'zod';
import { OCPI_TOKEN_TYPES, PARTY_PATTERN, parseParty, type OcpiParty } from '../contract/ocpi.js';

/**
 * Chargegate's configuration: every environment variable it reads, parsed once at start.
 * `process.env` is read nowhere else. What each variable means is in `config-docs.ts`, from
 * which `npm run docs` generates the table in docs/configuration.md.
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

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses `500ms`, `5s`, `2m`, `1h`, `7d` into milliseconds; `null` when malformed. */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
}

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const booleanText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected an absolute ${protocols.join(' or ')} URL` },
  );

const retrySchedule = z.string().transform((text, ctx) => {
  const parts = text.split(',').map((p) => p.trim());
  const delays = parts.map(parseDuration);
  if (parts.length === 0 || parts.length > 50 || delays.some((d) => d === null || d < 0)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected comma-separated durations like 5s,30s,2m,1h',
    });
    return z.NEVER;
  }
  return delays as number[];
});

const duration = z.string().transform((text, ctx) => {
  // `0` needs no unit.
  const ms = text.trim() === '0' ? 0 : parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 12h or 7d' });
    return z.NEVER;
  }
  return ms;
});

const secretList = z.string().transform((text, ctx) => {
  const secrets = text.split(/[\s,]+/).filter(Boolean);
  const bad = secrets.filter((s) => !/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/.test(s));
  if (secrets.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected whsec_ followed by base64 (at least 24 bytes)',
    });
    return z.NEVER;
  }
  return secrets;
});

const schema = z.object({
  PORT: integer(0, 65535).default(8080),
  WORKER_PORT: integer(0, 65535).optional(),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  AUTH_SERVICE_URL: url(['http:', 'https:']).optional(),
  AUTH_SERVICE_PORT: integer(0, 65535).default(8081),
  AUTH_SERVICE_HOST: z.string().min(1).default('127.0.0.1'),
  AUTH_TIMEOUT_MS: integer(1, 600_000).default(DEFAULT_AUTH_TIMEOUT_MS),
  AUTH_MAX_IN_FLIGHT: integer(1, 10_000).default(DEFAULT_AUTH_MAX_IN_FLIGHT),
  AUTH_RATE_LIMIT_PER_SEC: integer(1, 1_000_000).optional(),
  AUTH_CIRCUIT_FAILURE_THRESHOLD: integer(1, 10_000).default(
    DEFAULT_AUTH_CIRCUIT_FAILURE_THRESHOLD,
  ),
  AUTH_CIRCUIT_OPEN_MS: integer(100, 3_600_000).default(DEFAULT_AUTH_CIRCUIT_OPEN_MS),
  AUTH_PROTOCOL: z.enum(['chargegate', 'ocpi']).default('chargegate'),
  AUTH_OCPI_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'expected 1 to 255 printable ASCII characters')
    .optional(),
  AUTH_OCPI_TOKEN_TYPE: z.enum(OCPI_TOKEN_TYPES).default(DEFAULT_AUTH_OCPI_TOKEN_TYPE),
  AUTH_OCPI_FROM: z.string().regex(PARTY_PATTERN, 'expected CC-PID, e.g. NL-CPO').optional(),
  AUTH_OCPI_TO: z.string().regex(PARTY_PATTERN, 'expected CC-PID, e.g. NL-EMS').optional(),
  AUTH_CACHE_TTL: duration.prefault(DEFAULT_AUTH_CACHE_TTL),
  AUTH_OFFLINE_POLICY: z.enum(['unknown', 'last_known']).default('unknown'),
  AUTH_OFFLINE_MAX_AGE: duration.prefault(DEFAULT_AUTH_OFFLINE_MAX_AGE),
  REQUEST_DEADLINE_MS: integer(1, 86_400_000).optional(),
  ACL_FILE: z.string().min(1).optional(),
  TOKEN_HASH_KEY: z.string().min(32, 'expected at least 32 characters').optional(),
  WEBHOOK_SECRET: secretList.optional(),
  CALLBACK_TIMEOUT_MS: integer(1, 600_000).default(DEFAULT_CALLBACK_TIMEOUT_MS),
  CALLBACK_RETRY_SCHEDULE: retrySchedule.prefault(DEFAULT_CALLBACK_RETRY_SCHEDULE),
  CALLBACK_MAX_IN_FLIGHT: integer(1, 10_000).default(DEFAULT_CALLBACK_MAX_IN_FLIGHT),
  CALLBACK_MAX_PER_HOST: integer(1, 10_000).default(DEFAULT_CALLBACK_MAX_PER_HOST),
  CALLBACK_ALLOW_PRIVATE_NETWORKS: booleanText.default(false),
  CALLBACK_REQUIRE_HTTPS: booleanText.default(false),
  DEAD_LETTER_RETENTION: duration.prefault(DEFAULT_DEAD_LETTER_RETENTION),
  SESSION_RETENTION: duration.prefault(DEFAULT_SESSION_RETENTION),
  STATION_CATALOG_STRICT: booleanText.default(false),
  STATIONS_FILE: z.string().min(1).optional(),
  RESERVATION_MAX_LENGTH: duration.prefault(DEFAULT_RESERVATION_MAX_LENGTH),
  RESERVATION_MAX_AHEAD: duration.prefault(DEFAULT_RESERVATION_MAX_AHEAD),
  MAX_BACKLOG: integer(1, 100_000_000).default(DEFAULT_MAX_BACKLOG),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  HTTP_REQUEST_TIMEOUT_MS: integer(1_000, 600_000).default(DEFAULT_HTTP_REQUEST_TIMEOUT_MS),
  HTTP_MAX_CONNECTIONS: integer(1, 1_000_000).default(DEFAULT_HTTP_MAX_CONNECTIONS),
  HTTP_MAX_CONNECTIONS_PER_CLIENT: integer(1, 1_000_000).default(
    DEFAULT_HTTP_MAX_CONNECTIONS_PER_CLIENT,
  ),
  API_RATE_LIMIT_PER_SEC: integer(1, 1_000_000).optional(),
  ACCEPT_TIMEOUT_MS: integer(100, 60_000).default(DEFAULT_ACCEPT_TIMEOUT_MS),
  REDIS_COMMAND_TIMEOUT_MS: integer(100, 600_000).default(DEFAULT_REDIS_COMMAND_TIMEOUT_MS),
  DATABASE_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000).default(
    DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS,
  ),
  METRICS_PORT: integer(0, 65535).optional(),
  QUEUE_PARTITIONS: integer(1, 1_024).default(1),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'expected 1 to 64 of A-Z a-z 0-9 : _ . -')
    .default('chargegate'),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .default('public'),
  SQLITE_SYNCHRONOUS: z.enum(['normal', 'full']).default('normal'),
  // `auto` (worker threads when there is a second core): measured with `npm run bench` on 2
  // cores, the threads accept 1.7 × as many requests, decide more, and keep the `202` in
  // milliseconds under end-to-end load instead of a second (docs/performance.md); `false`
  // keeps everything on one thread.
  WORKER_THREAD: z
    .enum(['auto', 'true', 'false'], { message: 'expected auto, true or false' })
    .default('auto'),
  ADMIN_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  ACL_ADMIN_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  REQUIRE_CLIENTS: booleanText.default(false),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url(['http:', 'https:']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http:', 'https:']).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('chargegate'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Env = z.infer<typeof schema>;

export interface Config {
  port: number;
  /** `worker` command: where it serves health and metrics; unset: it listens nowhere. */
  workerPort: number | undefined;
  host: string;
  dataDir: string;
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  auth: {
    /** Unset: `start` runs the reference service and uses it. */
    url: string | undefined;
    servicePort: number;
    serviceHost: string;
    timeoutMs: number;
    maxInFlight: number;
    /** Unset: no rate limit (the in-flight bound still applies). */
    rateLimitPerSec: number | undefined;
    circuitFailureThreshold: number;
    circuitOpenMs: number;
    aclFile: string | undefined;
    /** The language spoken to the service: Chargegate's contract or OCPI 2.2.1. */
    protocol: 'chargegate' | 'ocpi';
    ocpi: {
      /** The credentials token, sent by the worker and checked by the reference service;
       * unset: `start` makes one up for its in-process service. */
      token: string | undefined;
      tokenType: (typeof OCPI_TOKEN_TYPES)[number];
      /** Both or neither (`loadConfig` refuses one alone). */
      from: OcpiParty | undefined;
      to: OcpiParty | undefined;
    };
    /** 0: decisions are not reused. */
    cacheTtlMs: number;
    offlinePolicy: 'unknown' | 'last_known';
    offlineMaxAgeMs: number;
  };
  /** Unset: no deadline; a request waits in the queue as long as it takes. */
  requestDeadlineMs: number | undefined;
  /** Unset: generated once and kept in `dataDir`. */
  tokenHashKey: string | undefined;
  callbacks: {
    /** Unset: generated once and kept in `dataDir`. */
    secrets: string[] | undefined;
    timeoutMs: number;
    retryScheduleMs: number[];
    maxInFlight: number;
    maxPerHost: number;
    allowPrivateNetworks: boolean;
    /** Refuse `http:` callback URLs (the production setting: tokens travel encrypted). */
    requireHttps: boolean;
    deadLetterRetentionMs: number;
  };
  /** Finished sessions older than this are deleted (`store/port.ts`). */
  sessionRetentionMs: number;
  stations: {
    /** An unknown station is `invalid`/`unknown_station` instead of asked about. */
    strict: boolean;
    /** Seeds an empty catalog; unset: the bundled example in embedded mode, none otherwise. */
    file: string | undefined;
    reservationMaxLengthMs: number;
    reservationMaxAheadMs: number;
  };
  maxBacklog: number;
  shutdownTimeoutMs: number;
  http: {
    /** The whole request (headers and body) must arrive within this. */
    requestTimeoutMs: number;
    maxConnections: number;
    maxConnectionsPerClient: number;
    /** Requests a second per client (address); unset: no limit. */
    rateLimitPerSec: number | undefined;
    /** Where `/metrics` is served instead of the public port; unset: on the public port. */
    metricsPort: number | undefined;
  };
  /** A POST is stored within this or answered 503, and then never stored. */
  acceptTimeoutMs: number;
  redisCommandTimeoutMs: number;
  databaseStatementTimeoutMs: number;
  /** Redis Streams per topic in distributed mode; each partition has its own lease and
   * delayed sets, so leasing work is spread over smaller structures. */
  queuePartitions: number;
  /** Prefix of every Redis key, so several deployments can share one Redis. */
  redisKeyPrefix: string;
  /** PostgreSQL schema of Chargegate's tables, so several deployments can share a database. */
  databaseSchema: string;
  /** Embedded mode: `normal` survives a process crash, `full` also a power loss. */
  sqliteSynchronous: 'normal' | 'full';
  /** `start`: run the worker role in worker threads (`auto`: when there is more than one core). */
  workerThread: 'auto' | 'true' | 'false';
  adminToken: string | undefined;
  /** The reference ACL service's admin API; unset: ADMIN_TOKEN, as before it existed. */
  aclAdminToken: string | undefined;
  /** The API refuses to start without an API client (the production setting). */
  requireClients: boolean;
  logLevel: Env['LOG_LEVEL'];
  tracing: {
    /** Where spans are POSTed (OTLP/HTTP); unset: tracing off. */
    endpoint: string | undefined;
    serviceName: string;
  };
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Distributed mode runs processes on several hosts that share no DATA_DIR, so what they must
 * agree on is given explicitly: the queue needs the store beside it, hashes persisted in
 * PostgreSQL need a fixed TOKEN_HASH_KEY, and workers on several hosts need one WEBHOOK_SECRET.
 * (DATABASE_URL alone is valid: the reference authorization service keeps its ACL there.)
 */
function distributedProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.REDIS_URL !== undefined && e.DATABASE_URL === undefined) {
    problems.push('DATABASE_URL: required with REDIS_URL (distributed mode needs both)');
  }
  if (e.DATABASE_URL !== undefined && e.TOKEN_HASH_KEY === undefined) {
    problems.push(
      'TOKEN_HASH_KEY: required with DATABASE_URL (every process must hash tokens alike)',
    );
  }
  if (e.REDIS_URL !== undefined && e.WEBHOOK_SECRET === undefined) {
    problems.push(
      'WEBHOOK_SECRET: required with REDIS_URL (workers on every host must sign alike)',
    );
  }
  return problems;
}

/** A dead letter is replayed with its session: the session must not go first. */
function retentionProblems(e: Env): string[] {
  return e.SESSION_RETENTION < e.DEAD_LETTER_RETENTION
    ? ['SESSION_RETENTION: must be at least DEAD_LETTER_RETENTION (a replay needs its session)']
    : [];
}

/** The routing headers name both parties or neither. */
function ocpiProblems(e: Env): string[] {
  if ((e.AUTH_OCPI_FROM === undefined) === (e.AUTH_OCPI_TO === undefined)) return [];
  const missing = e.AUTH_OCPI_FROM === undefined ? 'AUTH_OCPI_FROM' : 'AUTH_OCPI_TO';
  return [
    `${missing}: required with ${missing === 'AUTH_OCPI_FROM' ? 'AUTH_OCPI_TO' : 'AUTH_OCPI_FROM'} (the OCPI routing headers name both parties)`,
  ];
}

/** Parses the environment; throws a `ConfigError` that names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  // An empty variable means "unset": `FOO= chargegate start` should not be an error.
  const present = Object.fromEntries(
    Object.keys(schema.shape)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        return `${name}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const problems = [...distributedProblems(e), ...retentionProblems(e), ...ocpiProblems(e)];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: e.PORT,
    workerPort: e.WORKER_PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    auth: {
      url: e.AUTH_SERVICE_URL,
      servicePort: e.AUTH_SERVICE_PORT,
      serviceHost: e.AUTH_SERVICE_HOST,
      timeoutMs: e.AUTH_TIMEOUT_MS,
      maxInFlight: e.AUTH_MAX_IN_FLIGHT,
      rateLimitPerSec: e.AUTH_RATE_LIMIT_PER_SEC,
      circuitFailureThreshold: e.AUTH_CIRCUIT_FAILURE_THRESHOLD,
      circuitOpenMs: e.AUTH_CIRCUIT_OPEN_MS,
      aclFile: e.ACL_FILE,
      protocol: e.AUTH_PROTOCOL,
      ocpi: {
        token: e.AUTH_OCPI_TOKEN,
        tokenType: e.AUTH_OCPI_TOKEN_TYPE,
        from: e.AUTH_OCPI_FROM === undefined ? undefined : parseParty(e.AUTH_OCPI_FROM),
        to: e.AUTH_OCPI_TO === undefined ? undefined : parseParty(e.AUTH_OCPI_TO),
      },
      cacheTtlMs: e.AUTH_CACHE_TTL,
      offlinePolicy: e.AUTH_OFFLINE_POLICY,
      offlineMaxAgeMs: e.AUTH_OFFLINE_MAX_AGE,
    },
    requestDeadlineMs: e.REQUEST_DEADLINE_MS,
    tokenHashKey: e.TOKEN_HASH_KEY,
    callbacks: {
      secrets: e.WEBHOOK_SECRET,
      timeoutMs: e.CALLBACK_TIMEOUT_MS,
      retryScheduleMs: e.CALLBACK_RETRY_SCHEDULE,
      maxInFlight: e.CALLBACK_MAX_IN_FLIGHT,
      maxPerHost: e.CALLBACK_MAX_PER_HOST,
      allowPrivateNetworks: e.CALLBACK_ALLOW_PRIVATE_NETWORKS,
      requireHttps: e.CALLBACK_REQUIRE_HTTPS,
      deadLetterRetentionMs: e.DEAD_LETTER_RETENTION,
    },
    sessionRetentionMs: e.SESSION_RETENTION,
    stations: {
      strict: e.STATION_CATALOG_STRICT,
      file: e.STATIONS_FILE,
      reservationMaxLengthMs: e.RESERVATION_MAX_LENGTH,
      reservationMaxAheadMs: e.RESERVATION_MAX_AHEAD,
    },
    maxBacklog: e.MAX_BACKLOG,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    http: {
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerClient: e.HTTP_MAX_CONNECTIONS_PER_CLIENT,
      rateLimitPerSec: e.API_RATE_LIMIT_PER_SEC,
      metricsPort: e.METRICS_PORT,
    },
    acceptTimeoutMs: e.ACCEPT_TIMEOUT_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    databaseStatementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    queuePartitions: e.QUEUE_PARTITIONS,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    databaseSchema: e.DATABASE_SCHEMA,
    sqliteSynchronous: e.SQLITE_SYNCHRONOUS,
    workerThread: e.WORKER_THREAD,
    adminToken: e.ADMIN_TOKEN,
    aclAdminToken: e.ACL_ADMIN_TOKEN ?? e.ADMIN_TOKEN,
    requireClients: e.REQUIRE_CLIENTS,
    logLevel: e.LOG_LEVEL,
    tracing: {
      // The standard OTLP variables: the traces endpoint as is, the base one plus /v1/traces.
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
export type ConfigName = keyof typeof schema.shape;
