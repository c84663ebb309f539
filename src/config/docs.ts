import type { ConfigName } from './config.js';

/**
 * What every configuration variable means, for operators. `npm run docs` builds the table in
 * docs/configuration.md from this and from the schema in `config.ts` (defaults and constraints
 * come from the schema, never from here). A variable added to the schema without an entry
 * here fails the type check.
 */
export interface VariableDoc {
  /** The table it is listed in. */
  group: ConfigGroup;
  /** One sentence: what it changes. Markdown. */
  meaning: string;
  /** What leaving it unset does, for a variable without a default. */
  unset?: string;
}

export const CONFIG_GROUPS = [
  'Processes and listening',
  'Storage and deployment mode',
  'Authorization',
  'Callbacks',
  'Limits and timeouts',
  'Retention, secrets and access',
  'Shutdown, logs and traces',
] as const;
export type ConfigGroup = (typeof CONFIG_GROUPS)[number];

export const CONFIG_DOCS = {
  PORT: {
    group: 'Processes and listening',
    meaning: 'port of the public API (`0` picks a free port)',
  },
  HOST: {
    group: 'Processes and listening',
    meaning: 'listen address of the public API, and of the `WORKER_PORT` server',
  },
  WORKER_PORT: {
    group: 'Processes and listening',
    meaning:
      '`worker` command: serve `/health/live`, `/health/ready` (queue, store, circuit) and `/metrics` on this port',
    unset: 'a worker listens nowhere',
  },
  WORKER_THREAD: {
    group: 'Processes and listening',
    meaning:
      '`start`: run the worker role in two threads beside the API (one decides, one delivers), at a lower CPU priority; `auto` = when the machine has more than one core, `false` = everything on one thread',
  },
  DATA_DIR: {
    group: 'Storage and deployment mode',
    meaning: 'embedded mode files: `queue.db`, `store.db`, `acl.db` and generated secrets',
  },
  REDIS_URL: {
    group: 'Storage and deployment mode',
    meaning:
      'distributed mode: the Redis Streams queue; `start`, `api` and `worker` need `DATABASE_URL` with it',
    unset: 'embedded mode (SQLite queue in `DATA_DIR`)',
  },
  DATABASE_URL: {
    group: 'Storage and deployment mode',
    meaning:
      "distributed mode: the PostgreSQL decision store and the reference service's ACL; `auth-service` needs only this one",
    unset: 'embedded mode (SQLite store in `DATA_DIR`)',
  },
  REDIS_KEY_PREFIX: {
    group: 'Storage and deployment mode',
    meaning: 'prefix of every Redis key, so deployments can share a Redis',
  },
  DATABASE_SCHEMA: {
    group: 'Storage and deployment mode',
    meaning: 'PostgreSQL schema of the tables, so deployments can share a database',
  },
  QUEUE_PARTITIONS: {
    group: 'Storage and deployment mode',
    meaning: 'Redis streams per queue; requests are partitioned by station',
  },
  SQLITE_SYNCHRONOUS: {
    group: 'Storage and deployment mode',
    meaning:
      'embedded mode: `normal` survives a process crash, `full` also a power loss (an fsync per group commit)',
  },
  MAX_BACKLOG: {
    group: 'Storage and deployment mode',
    meaning: 'undecided requests past which `POST` answers `503` `BACKLOG_FULL`',
  },
  AUTH_SERVICE_URL: {
    group: 'Authorization',
    meaning: 'full URL of the authorize endpoint; when set, `start` runs no reference service',
    unset:
      '`start` runs the reference service and uses it; a `worker` calls `127.0.0.1:AUTH_SERVICE_PORT`',
  },
  AUTH_SERVICE_PORT: {
    group: 'Authorization',
    meaning: 'where `start` and `auth-service` run the reference authorization service',
  },
  AUTH_SERVICE_HOST: {
    group: 'Authorization',
    meaning: "the reference service's listen address (internal: loopback by default)",
  },
  AUTH_TIMEOUT_MS: {
    group: 'Authorization',
    meaning: 'authorization timeout, after which the decision is `unknown` (`timeout`)',
  },
  AUTH_MAX_IN_FLIGHT: {
    group: 'Authorization',
    meaning: 'concurrent calls to the authorization service, per worker process',
  },
  AUTH_RATE_LIMIT_PER_SEC: {
    group: 'Authorization',
    meaning:
      'calls per second to the authorization service, global across workers with `REDIS_URL`',
    unset: 'no rate limit (the in-flight bound still applies)',
  },
  AUTH_CIRCUIT_FAILURE_THRESHOLD: {
    group: 'Authorization',
    meaning: 'consecutive failed calls that open the circuit breaker',
  },
  AUTH_CIRCUIT_OPEN_MS: {
    group: 'Authorization',
    meaning: 'how long an open circuit answers `circuit_open` before one probe call',
  },
  AUTH_PROTOCOL: {
    group: 'Authorization',
    meaning:
      "the language spoken to the authorization service: `chargegate` (its own small contract) or `ocpi` (OCPI 2.2.1 real-time authorization; `AUTH_SERVICE_URL` is then the eMSP's Tokens endpoint), docs/authorization.md",
  },
  AUTH_OCPI_TOKEN: {
    group: 'Authorization',
    meaning:
      "OCPI credentials token: sent base64-encoded as `Authorization: Token …`, and required by the reference service's OCPI endpoint",
    unset:
      'no OCPI endpoint on the reference service; with `AUTH_PROTOCOL=ocpi`, `start` makes one up for its own service, and a worker calling another process refuses to start',
  },
  AUTH_OCPI_TOKEN_TYPE: {
    group: 'Authorization',
    meaning: 'OCPI `TokenType` sent as `?type=`: `APP_USER`, `AD_HOC_USER`, `RFID` or `OTHER`',
  },
  AUTH_OCPI_FROM: {
    group: 'Authorization',
    meaning:
      'OCPI party of this operator as `CC-PID` (e.g. `NL-CPO`), sent as `OCPI-from-country-code` and `OCPI-from-party-id`; needs `AUTH_OCPI_TO`',
    unset: 'no OCPI routing headers',
  },
  AUTH_OCPI_TO: {
    group: 'Authorization',
    meaning:
      'OCPI party of the eMSP as `CC-PID`, sent as `OCPI-to-country-code` and `OCPI-to-party-id`; needs `AUTH_OCPI_FROM`',
    unset: 'no OCPI routing headers',
  },
  AUTH_CACHE_TTL: {
    group: 'Authorization',
    meaning:
      'reuse a decision (`allowed`, `not_allowed`, `invalid`) for the same station and token this long without a call; `0` = off. In memory per worker (embedded), in Redis for all workers (distributed)',
  },
  AUTH_OFFLINE_POLICY: {
    group: 'Authorization',
    meaning:
      '`unknown`: a request the service could not answer is `unknown`; `last_known`: it is `allowed` (reason `offline_last_known`) if the service last allowed that token at that station within `AUTH_OFFLINE_MAX_AGE`',
  },
  AUTH_OFFLINE_MAX_AGE: {
    group: 'Authorization',
    meaning: 'the oldest decision the `last_known` offline policy may use',
  },
  REQUEST_DEADLINE_MS: {
    group: 'Authorization',
    meaning:
      'requests accepted longer ago than this are decided `unknown` (`deadline_exceeded`) without a call',
    unset: 'no deadline',
  },
  ACL_FILE: {
    group: 'Authorization',
    meaning:
      "JSON file that seeds the reference service's ACL when its store is empty ([format](acl.md#file-format))",
    unset: 'the bundled `acl/example.json`',
  },
  STATION_CATALOG_STRICT: {
    group: 'Authorization',
    meaning:
      'a start at a station the catalog does not know is decided `invalid` (`unknown_station`) instead of asked about ([stations](stations.md))',
  },
  STATIONS_FILE: {
    group: 'Authorization',
    meaning:
      'JSON file that seeds the station catalog when it is empty ([format](stations.md#seeding-the-catalog))',
    unset: 'embedded mode: the bundled `examples/stations.json`; distributed mode: none',
  },
  RESERVATION_MAX_LENGTH: {
    group: 'Authorization',
    meaning: 'the longest window a reservation may book ([stations](stations.md))',
  },
  RESERVATION_MAX_AHEAD: {
    group: 'Authorization',
    meaning: 'how far ahead of now a reservation may end',
  },
  WEBHOOK_SECRET: {
    group: 'Callbacks',
    meaning:
      'signing secret(s); several, space- or comma-separated, during a rotation (each signs)',
    unset: 'generated once, kept in `DATA_DIR/webhook-secret`',
  },
  CALLBACK_TIMEOUT_MS: {
    group: 'Callbacks',
    meaning: 'bound of one callback attempt: connecting, sending and reading the answer',
  },
  CALLBACK_RETRY_SCHEDULE: {
    group: 'Callbacks',
    meaning:
      'delays between attempts (`ms`, `s`, `m`, `h`, `d`), each ±20 % jitter; the default makes 7 attempts over about 58 minutes',
  },
  CALLBACK_MAX_IN_FLIGHT: {
    group: 'Callbacks',
    meaning: 'concurrent callback attempts per worker process',
  },
  CALLBACK_MAX_PER_HOST: {
    group: 'Callbacks',
    meaning: 'concurrent callback attempts to one receiver (scheme, host, port) per worker process',
  },
  CALLBACK_REQUIRE_HTTPS: {
    group: 'Callbacks',
    meaning:
      'refuse `http:` callback URLs with `400` (driver tokens then always travel encrypted): the production setting',
  },
  CALLBACK_ALLOW_PRIVATE_NETWORKS: {
    group: 'Callbacks',
    meaning:
      'allow callbacks to private, loopback and metadata addresses (local development, tests; [SSRF](webhooks.md#server-side-request-forgery))',
  },
  DEAD_LETTER_RETENTION: {
    group: 'Retention, secrets and access',
    meaning: 'how long dead letters, which keep the driver token for a replay, are kept',
  },
  SESSION_RETENTION: {
    group: 'Retention, secrets and access',
    meaning:
      'how long finished sessions are kept after their last callback attempt; at least `DEAD_LETTER_RETENTION`',
  },
  TOKEN_HASH_KEY: {
    group: 'Retention, secrets and access',
    meaning: 'key of the driver-token hashes (store, ACL, logs); required with `DATABASE_URL`',
    unset: 'generated once, kept in `DATA_DIR/token-hash-key`',
  },
  ADMIN_TOKEN: {
    group: 'Retention, secrets and access',
    meaning:
      "bearer token of the admin APIs (`/admin/v1/…`) and the console (`/console`); a `GET` of a request bearing it also shows the full callback URL and the receiver's answers",
    unset: 'admin APIs and console off (`404`)',
  },
  REQUIRE_CLIENTS: {
    group: 'Retention, secrets and access',
    meaning:
      'the API refuses to start unless an API client exists, so the public API always needs a client key: the production setting ([clients](clients.md))',
  },
  ACL_ADMIN_TOKEN: {
    group: 'Retention, secrets and access',
    meaning:
      "bearer token of the reference authorization service's ACL admin API; set it apart from `ADMIN_TOKEN` in production",
    unset: '`ADMIN_TOKEN` opens the ACL admin API too',
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    group: 'Limits and timeouts',
    meaning:
      'a client must send its whole request (headers and body) within this, or gets `408` and is cut off',
  },
  HTTP_MAX_CONNECTIONS: {
    group: 'Limits and timeouts',
    meaning: 'open connections to the public API in all; further ones are refused',
  },
  HTTP_MAX_CONNECTIONS_PER_CLIENT: {
    group: 'Limits and timeouts',
    meaning:
      "open connections from one client address; further ones are closed at once (behind a load balancer every client shares its address: raise it to the balancer's pool)",
  },
  API_RATE_LIMIT_PER_SEC: {
    group: 'Limits and timeouts',
    meaning:
      'requests a second per client address on the public API, with a burst of one second; past it `429` `RATE_LIMITED` with `Retry-After`',
    unset: 'no rate limit',
  },
  ACCEPT_TIMEOUT_MS: {
    group: 'Limits and timeouts',
    meaning:
      'a `POST` is stored within this or answered `503` `STORE_UNAVAILABLE` (at most 250 ms later), and is then never stored, decided or called back',
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    group: 'Limits and timeouts',
    meaning:
      'a Redis command not answered within this fails (a stalled server or network); blocking reads get their block time on top',
  },
  DATABASE_STATEMENT_TIMEOUT_MS: {
    group: 'Limits and timeouts',
    meaning:
      "a decision-store statement not answered within this fails; also the server's `statement_timeout` (migrations excepted)",
  },
  METRICS_PORT: {
    group: 'Processes and listening',
    meaning:
      'serve `/metrics` on this port instead of the public one, to keep it off the public network',
    unset: '`/metrics` on the public port',
  },
  SHUTDOWN_TIMEOUT_MS: {
    group: 'Shutdown, logs and traces',
    meaning:
      'how long SIGTERM waits for in-flight work: the API closes every connection still open at this, and the process exits at most 5 s after it whatever still runs (unfinished messages come back when their leases end)',
  },
  LOG_LEVEL: {
    group: 'Shutdown, logs and traces',
    meaning: 'least severe log level written',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    group: 'Shutdown, logs and traces',
    meaning: 'OpenTelemetry collector (OTLP/HTTP) base URL; traces go to `…/v1/traces`',
    unset: 'tracing off',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    group: 'Shutdown, logs and traces',
    meaning: 'full OTLP/HTTP traces URL; wins over the base URL',
    unset: 'the base URL plus `/v1/traces`',
  },
  OTEL_SERVICE_NAME: {
    group: 'Shutdown, logs and traces',
    meaning: '`service.name` of the exported spans',
  },
} satisfies Record<ConfigName, VariableDoc>;
