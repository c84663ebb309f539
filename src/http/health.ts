import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

/** A readiness probe that hangs is worse than one that fails: each check gets this long. */
const CHECK_TIMEOUT_MS = 2_000;

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** Extra state shown by `/health/ready` without affecting readiness (e.g. circuit breaker). */
export type ReadinessDetails = () => Record<string, unknown>;

const HealthBody = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function registerHealthRoutes(
  app: FastifyInstance,
  checks: ReadinessCheck[],
  details?: ReadinessDetails,
): void {
  const schema = { tags: ['operations'], response: { 200: HealthBody, 503: HealthBody } };

  app.get('/health/live', { schema: { ...schema, summary: 'The process is running' } }, () => ({
    status: 'ok',
  }));

  app.get(
    '/health/ready',
    { schema: { ...schema, summary: 'The queue and the store answer' } },
    async (request, reply) => {
      const results = await Promise.all(
        checks.map(async ({ name, check }) => {
          try {
            await withTimeout(check(), CHECK_TIMEOUT_MS);
            return [name, 'ok'] as const;
          } catch (error) {
            request.log.warn({ err: error, check: name }, 'readiness check failed');
            return [name, 'failing'] as const;
          }
        }),
      );
      const ready = results.every(([, state]) => state === 'ok');
      return reply.code(ready ? 200 : 503).send({
        status: ready ? 'ready' : 'not_ready',
        checks: Object.fromEntries(results),
        ...(details ? { details: details() } : {}),
      });
    },
  );
}
