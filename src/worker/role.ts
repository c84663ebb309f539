import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import type { Queue } from '../queue/port.js';
import type { DecisionStore } from '../store/port.js';
import type { Metrics } from '../lib/metrics.js';
import type { Tracer } from '@opentelemetry/api';
import { reasonLabel, setCircuitState } from '../lib/metrics.js';
import {
  createAuthorizationClient,
  type AuthorizationClient,
  type AuthorizationResult,
} from '../authorization/client.js';
import { createCachedAuthorizationClient } from '../authorization/cached-client.js';
import { createMemoryDecisionCache, type DecisionCache } from '../authorization/decision-cache.js';
import { createRedisDecisionCache } from '../authorization/decision-cache-redis.js';
import type { OcpiClientSettings } from '../authorization/ocpi.js';
import { ConfigError } from '../config/config.js';
import { CircuitBreaker, type CircuitState } from '../lib/circuit-breaker.js';
import { createLocalRateLimiter, type RateLimiter } from '../lib/rate-limit.js';
import { createRedisRateLimiter } from '../lib/rate-limit-redis.js';
import { startDispatcher } from '../callbacks/dispatcher.js';
import { createSigner, type Signer } from '../contract/signing.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { StationStore } from '../stations/port.js';
import { createGuardedAgent } from '../callbacks/ssrf.js';
import { createDeadLetters, type DeadLetters } from '../callbacks/dead-letters.js';
import { startRequestWorker } from './worker.js';
import { purgeExpiredSessions } from '../store/retention.js';

export interface WorkerRole {
  /** Stop steps, to run in reverse order. */
  closers: (() => Promise<void>)[];
  circuitState: () => CircuitState;
}

/** Dead letters and sessions are checked for expiry this often; retentions are days, so minutes
 * is plenty. */
const PURGE_INTERVAL_MS = 10 * 60_000;

function rateLimiterFor(config: Config, logger: FastifyBaseLogger): RateLimiter | undefined {
  const perSecond = config.auth.rateLimitPerSec;
  if (perSecond === undefined) return undefined;
  if (config.redisUrl === undefined) return createLocalRateLimiter(perSecond);
  // Distributed: one limit for all worker processes, held in Redis.
  return createRedisRateLimiter({
    url: config.redisUrl,
    key: `${config.redisKeyPrefix}:authorization-rate`,
    perSecond,
    onError: (error) => logger.warn({ err: error }, 'rate limiter cannot reach Redis; waiting'),
  });
}

/** The OCPI client's settings, with `AUTH_PROTOCOL=ocpi`. */
function ocpiSettingsOf(config: Config): OcpiClientSettings | undefined {
  if (config.auth.protocol !== 'ocpi') return undefined;
  const { token, tokenType, from, to } = config.auth.ocpi;
  if (token === undefined) {
    throw new ConfigError([
      'AUTH_OCPI_TOKEN: required with AUTH_PROTOCOL=ocpi (the credentials token for the eMSP)',
    ]);
  }
  return {
    credentialsToken: token,
    tokenType,
    ...(from === undefined || to === undefined ? {} : { from, to }),
  };
}

/** Embedded: in this process's memory; distributed: in Redis, shared by every worker. */
function decisionCacheFor(config: Config): DecisionCache {
  const { cacheTtlMs, offlinePolicy, offlineMaxAgeMs } = config.auth;
  const retainMs = Math.max(cacheTtlMs, offlinePolicy === 'last_known' ? offlineMaxAgeMs : 0);
  if (config.redisUrl === undefined) return createMemoryDecisionCache({ retainMs });
  return createRedisDecisionCache({
    url: config.redisUrl,
    keyPrefix: `${config.redisKeyPrefix}:authorization-cache`,
    retainMs,
    commandTimeoutMs: config.redisCommandTimeoutMs,
  });
}

/** A failing cache is said at most this often in the log (every lookup fails meanwhile). */
const CACHE_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * The client for the authorization service in the configured protocol, behind the decision
 * cache and the offline policy when either is on. Decisions are counted once each, as they
 * are finally made; call durations where the calls are made.
 */
function authorizerFor(
  config: Config,
  deps: WorkerRoleDeps,
  breaker: CircuitBreaker,
): AuthorizationClient {
  const { metrics, logger } = deps;
  const count = (result: AuthorizationResult) =>
    metrics.authorizations.inc({ decision: result.decision, reason: reasonLabel(result.reason) });
  const time = (result: AuthorizationResult) => {
    if (result.latencyMs === null) return;
    metrics.authorizationSeconds.observe({ decision: result.decision }, result.latencyMs / 1000);
  };
  const { cacheTtlMs, offlinePolicy, offlineMaxAgeMs } = config.auth;
  const wrapped = cacheTtlMs > 0 || offlinePolicy === 'last_known';
  const ocpi = ocpiSettingsOf(config);
  const client = createAuthorizationClient({
    url: deps.authUrl,
    ...(ocpi === undefined ? {} : { ocpi }),
    timeoutMs: config.auth.timeoutMs,
    maxInFlight: config.auth.maxInFlight,
    breaker,
    rateLimiter: rateLimiterFor(config, logger),
    observe: wrapped
      ? time
      : (result) => {
          count(result);
          time(result);
        },
  });
  if (!wrapped) return client;
  let lastCacheError = -Infinity;
  return createCachedAuthorizationClient(client, {
    cache: decisionCacheFor(config),
    ttlMs: cacheTtlMs,
    ...(offlinePolicy === 'last_known' ? { offlineMaxAgeMs } : {}),
    onCache: (result) => metrics.authorizationCache.inc({ result }),
    onOffline: (outcome) => metrics.authorizationOffline.inc({ outcome }),
    onCacheError: (error) => {
      if (Date.now() - lastCacheError < CACHE_ERROR_LOG_INTERVAL_MS) return;
      lastCacheError = Date.now();
      logger.warn({ err: error }, 'decision cache failing; asking the authorization service');
    },
    observe: count,
  });
}

/**
 * The worker role's two halves: `requests` decides (authorization behind an in-flight bound,
 * an optional rate limit and a circuit breaker), `callbacks` delivers (signed, SSRF-guarded
 * callbacks, and the dead-letter retention purge). They share nothing but the queue and the
 * store, so each can run on a thread of its own; `both` runs them together.
 */
export type WorkerPart = 'requests' | 'callbacks' | 'both';

interface WorkerRoleDeps {
  queue: Queue;
  store: DecisionStore;
  logger: FastifyBaseLogger;
  metrics: Metrics;
  tracer?: Tracer;
  /** Told of every circuit breaker state change (the main thread mirrors it). */
  onCircuitState?: (state: CircuitState) => void;
  authUrl: string;
  webhookSecrets: string[];
  /** API clients, whose callbacks are signed with their own secrets. */
  clients?: ClientRegistry;
  /** The station catalog, whose rules decide some requests before the service is asked. */
  stations?: StationStore;
}

/** Wires the worker role, or one half of it (`part`, default both). */
export function startWorkerRole(
  config: Config,
  deps: WorkerRoleDeps,
  part: WorkerPart = 'both',
): WorkerRole {
  const requests = part === 'callbacks' ? null : startRequestsPart(config, deps);
  const callbacks = part === 'requests' ? null : startCallbacksPart(config, deps);
  deps.logger.info(
    {
      part,
      authorization_url: requests === null ? undefined : deps.authUrl,
      authorization_protocol: requests === null ? undefined : config.auth.protocol,
      authorization_cache_ttl_ms: requests === null ? undefined : config.auth.cacheTtlMs,
      authorization_offline_policy: requests === null ? undefined : config.auth.offlinePolicy,
      rate_limit_per_sec: requests === null ? undefined : (config.auth.rateLimitPerSec ?? null),
    },
    part === 'both'
      ? 'worker and callback dispatcher started'
      : part === 'requests'
        ? 'worker started'
        : 'callback dispatcher started',
  );
  return {
    circuitState: requests?.circuitState ?? (() => 'closed'),
    // Run in reverse: stop consumers first, then their HTTP clients and timers.
    closers: [...(callbacks?.closers ?? []), ...(requests?.closers ?? [])],
  };
}

function startRequestsPart(config: Config, deps: WorkerRoleDeps): WorkerRole {
  const { queue, store, metrics, logger } = deps;
  const breaker = new CircuitBreaker({
    failureThreshold: config.auth.circuitFailureThreshold,
    openMs: config.auth.circuitOpenMs,
    onStateChange: (state, previous) => {
      setCircuitState(metrics, state);
      deps.onCircuitState?.(state);
      const log = state === 'open' ? logger.warn.bind(logger) : logger.info.bind(logger);
      log({ state, previous }, `authorization circuit ${state}`);
    },
  });
  const authorizer = authorizerFor(config, deps, breaker);
  const worker = startRequestWorker({
    queue,
    store,
    authorizer,
    logger: logger.child({ role: 'worker' }),
    authTimeoutMs: config.auth.timeoutMs,
    requestDeadlineMs: config.requestDeadlineMs,
    rateLimitPerSec: config.auth.rateLimitPerSec,
    ...(deps.tracer === undefined ? {} : { tracer: deps.tracer }),
    maxInFlight: config.auth.maxInFlight,
    stations: deps.stations,
    stationCatalogStrict: config.stations.strict,
  });
  const inFlight = setInterval(() => metrics.authorizationInFlight.set(authorizer.inFlight), 1_000);
  inFlight.unref();
  return {
    circuitState: () => breaker.state,
    closers: [
      () => Promise.resolve(clearInterval(inFlight)),
      () => authorizer.close(),
      () => worker.stop(config.shutdownTimeoutMs),
    ],
  };
}

function startCallbacksPart(
  config: Config,
  deps: WorkerRoleDeps,
): { closers: WorkerRole['closers'] } {
  const { queue, store, metrics, logger } = deps;
  const http = createGuardedAgent({
    allowPrivateNetworks: config.callbacks.allowPrivateNetworks,
    maxPerHost: config.callbacks.maxPerHost,
    connectTimeoutMs: config.callbacks.timeoutMs,
  });
  const clients = deps.clients;
  const dispatcher = startDispatcher({
    queue,
    store,
    signer: createSigner(deps.webhookSecrets),
    ...(clients === undefined ? {} : { signerFor: clientSigners(clients) }),
    http,
    logger: logger.child({ role: 'dispatcher' }),
    timeoutMs: config.callbacks.timeoutMs,
    retryScheduleMs: config.callbacks.retryScheduleMs,
    concurrency: config.callbacks.maxInFlight,
    maxPerHost: config.callbacks.maxPerHost,
    onAttempt: (outcome) => metrics.callbackAttempts.inc({ outcome }),
    ...(deps.tracer === undefined ? {} : { tracer: deps.tracer }),
  });
  const deadLetters = createDeadLetters({
    queue,
    store,
    retentionMs: config.callbacks.deadLetterRetentionMs,
  });
  const stopPurging = startRetentionPurge(deadLetters, store, config.sessionRetentionMs, logger);
  return {
    // Run in reverse: the purge stops first, so no batch is under way while deliveries drain.
    closers: [() => http.close(), () => dispatcher.stop(config.shutdownTimeoutMs), stopPurging],
  };
}

/** Each client's signer, made again only when its live secrets change (a rotation). */
function clientSigners(clients: ClientRegistry) {
  const made = new Map<string, { secrets: string; signer: Signer }>();
  return async (clientId: string): Promise<Signer | null> => {
    await clients.ready();
    const secrets = clients.secretsOf(clientId);
    if (secrets === undefined || secrets.length === 0) return null;
    const joined = secrets.join(' ');
    const cached = made.get(clientId);
    if (cached?.secrets === joined) return cached.signer;
    const signer = createSigner(secrets);
    made.set(clientId, { secrets: joined, signer });
    return signer;
  };
}

/**
 * Purges expired dead letters and finished sessions now and then periodically (one purge at a
 * time); returns a function that stops it and waits for a purge under way.
 */
function startRetentionPurge(
  deadLetters: DeadLetters,
  store: DecisionStore,
  sessionRetentionMs: number,
  logger: FastifyBaseLogger,
): () => Promise<void> {
  let running: Promise<void> | null = null;
  let stopped = false;
  const attempt = async (what: string, purge: () => Promise<number>) => {
    try {
      const purged = await purge();
      if (purged > 0) logger.info({ purged }, `expired ${what} purged (retention)`);
    } catch (error) {
      if (!stopped) logger.warn({ err: error }, `purging expired ${what} failed`);
    }
  };
  const purge = async () => {
    await attempt('dead letters', () => deadLetters.purgeExpired());
    await attempt('sessions', () =>
      purgeExpiredSessions(store, { retentionMs: sessionRetentionMs, stopped: () => stopped }),
    );
  };
  const tick = () => {
    running ??= purge().finally(() => {
      running = null;
    });
  };
  tick();
  const timer = setInterval(tick, PURGE_INTERVAL_MS);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
