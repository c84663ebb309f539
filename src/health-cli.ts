import type { Config } from './config/config.js';

/**
 * `chargegate health [api|worker|auth-service]`: asks a running process on this host whether it
 * is ready, so a container's HEALTHCHECK needs no curl or wget in the image. It reads the same
 * settings as the process it checks (PORT, WORKER_PORT, AUTH_SERVICE_PORT, HOST), which is what
 * a health check in that process's container sees.
 */

/** Docker's default health-check timeout is 30 s; a readiness check answers in at most 2 s,
 * so an answer later than this means the process is stuck rather than busy. */
export const HEALTH_TIMEOUT_MS = 5_000;

const TARGETS = ['api', 'worker', 'auth-service'] as const;
type Target = (typeof TARGETS)[number];

export const HEALTH_USAGE = `Usage: chargegate health [api|worker|auth-service]

Asks the process running on this host for /health/ready and exits 0 when it answers 200,
1 otherwise (not ready, not listening, or no answer within ${HEALTH_TIMEOUT_MS / 1000} s).

  api           the public API on PORT (default; also what \`start\` serves)
  worker        a worker process's status server on WORKER_PORT
  auth-service  the reference authorization service on AUTH_SERVICE_PORT

Meant for container health checks: HEALTHCHECK CMD ["chargegate", "health"].`;

/** Where a process bound to `host` is reached from the same host. */
function localHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function portOf(target: Target, config: Config): number | string {
  if (target === 'api') return config.port;
  if (target === 'auth-service') return config.auth.servicePort;
  return config.workerPort ?? 'WORKER_PORT is not set: a worker without it serves no health';
}

function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}

/** Runs the check and returns the exit code; prints the answer (or why there is none). */
export async function runHealth(args: string[], config: Config): Promise<number> {
  const [name = 'api', ...extra] = args;
  if (!isTarget(name) || extra.length > 0) {
    process.stderr.write(`chargegate: unknown health target "${args.join(' ')}"\n\n`);
    process.stderr.write(`${HEALTH_USAGE}\n`);
    return 1;
  }
  const port = portOf(name, config);
  if (typeof port === 'string' || port === 0) {
    const why = typeof port === 'string' ? port : 'the port is 0 (any free port): nothing to ask';
    process.stderr.write(`chargegate health: ${why}\n`);
    return 1;
  }
  // The auth service binds AUTH_SERVICE_HOST; the API and a worker's status server bind HOST.
  const host = localHost(name === 'auth-service' ? config.auth.serviceHost : config.host);
  const url = `http://${host}:${port}/health/ready`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    const body = await response.text();
    const out = response.ok ? process.stdout : process.stderr;
    out.write(`${url}: ${response.status} ${body}\n`);
    return response.ok ? 0 : 1;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    process.stderr.write(`chargegate health: ${url}: ${reason}\n`);
    return 1;
  }
}
