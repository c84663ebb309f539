import type { FastifySchemaValidationError } from 'fastify';
import { checkedByRoute, type TypeBoxFastify } from '../http/type-provider.js';
import { allowsCallbackHost } from '../clients/port.js';
import { identifyCaller, type CallerOptions } from './callers.js';
import { storeCall } from './deadline.js';
import type { DecisionStore, SessionRecord, CallbackAttempt } from '../store/port.js';
import { fingerprintOf } from '../lib/token-hash.js';
import type { Intake } from './intake.js';
import {
  Accepted,
  ACCEPTED_MESSAGE,
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyKeyHeader,
  SessionParams,
  SessionView,
  StartSessionRequest,
} from './schemas.js';
import { Problem } from '../http/problem.js';
import { problem, sendProblem } from '../http/problem.js';
import { isValidStartRequest, startRequestErrors, type CallbackUrlCheck } from './validate.js';
import { isUuid } from '../lib/ids.js';
import { decidedBy } from '../stations/rules.js';
import type { Tracer } from '@opentelemetry/api';
import { contextFrom, inSpan, SpanKind, traceparentOf } from '../lib/tracing.js';

export const SESSIONS_PATH = '/api/v1/charging-sessions';

/** Fastify's route option for a 16 KiB body (docs/architecture.md, "The public API"). */
export const BODY_LIMIT_BYTES = 16 * 1024;

export function registerSessionRoutes(
  app: TypeBoxFastify,
  deps: {
    intake: Intake;
    store: DecisionStore;
    checkCallbackUrl: CallbackUrlCheck;
    tracer: Tracer;
    /** The GET answers `503` when the store has not answered within this. */
    readTimeoutMs: number;
    /** Who may call, and how often (`callers.ts`). */
    callers: CallerOptions;
    /** Told of each accepted request, with its client's name when there are clients. */
    onAccepted?: (client: string | null, replayed: boolean) => void;
  },
): void {
  app.post(
    SESSIONS_PATH,
    {
      onRequest: identifyCaller(deps.callers, 'start'),
      bodyLimit: BODY_LIMIT_BYTES,
      attachValidation: true,
      schema: {
        summary: 'Start a charging session',
        description:
          'Validates and durably stores the request, then answers 202. The decision is POSTed to callback_url later (see the CallbackPayload schema and the webhook headers).',
        tags: ['charging sessions'],
        body: checkedByRoute(StartSessionRequest),
        headers: checkedByRoute(IdempotencyKeyHeader),
        response: {
          202: Accepted,
          400: Problem,
          413: Problem,
          415: Problem,
          401: Problem,
          422: Problem,
          429: Problem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      const instance = SESSIONS_PATH;
      if (request.body === undefined) {
        return sendProblem(reply, problem(415, 'REQUEST_UNSUPPORTED_MEDIA_TYPE', { instance }));
      }
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key))) {
        return sendProblem(reply, problem(400, 'IDEMPOTENCY_KEY_INVALID', { instance }));
      }
      const client = request.caller?.client ?? null;
      const errors = startRequestErrors(
        request.body,
        request.validationError?.validation as FastifySchemaValidationError[] | undefined,
        client === null
          ? deps.checkCallbackUrl
          : (url) =>
              allowsCallbackHost(client, url.hostname)
                ? deps.checkCallbackUrl(url)
                : "must use one of this client's callback hosts",
      );
      if (!isValidStartRequest(request.body, errors)) {
        const detail = `${errors.length} invalid field${errors.length === 1 ? '' : 's'}: ${errors.map((e) => e.field).join(', ')}.`;
        return sendProblem(reply, problem(400, 'REQUEST_INVALID', { instance, detail, errors }));
      }
      const body = request.body;
      const result = await inSpan(
        deps.tracer,
        `POST ${SESSIONS_PATH}`,
        { parent: contextFrom(request.headers.traceparent), kind: SpanKind.SERVER },
        async (span) => {
          const accepted = await deps.intake.accept(body, key, traceparentOf(span), client?.id);
          span.setAttribute('chargegate.outcome', accepted.kind);
          if (accepted.kind === 'accepted')
            span.setAttribute('chargegate.request_id', accepted.requestId);
          return accepted;
        },
      );
      switch (result.kind) {
        case 'backlog_full':
          reply.header('retry-after', String(result.retryAfterSeconds));
          return sendProblem(reply, problem(503, 'BACKLOG_FULL', { instance }));
        case 'idempotency_conflict':
          return sendProblem(
            reply,
            problem(422, 'IDEMPOTENCY_KEY_REUSED', {
              instance,
              detail: 'This Idempotency-Key was used before with a different body.',
            }),
          );
        case 'accepted':
          request.log.info(
            {
              request_id: result.requestId,
              replayed: result.replayed,
              ...(client === null ? {} : { client: client.name }),
            },
            'request accepted',
          );
          deps.onAccepted?.(client?.name ?? null, result.replayed);
          if (result.replayed) reply.header('idempotent-replayed', 'true');
          return reply
            .code(202)
            .header('location', `${SESSIONS_PATH}/${result.requestId}`)
            .send({ status: 'accepted', message: ACCEPTED_MESSAGE, request_id: result.requestId });
      }
    },
  );

  app.get(
    `${SESSIONS_PATH}/:request_id`,
    {
      onRequest: identifyCaller(deps.callers, 'read'),
      schema: {
        summary: 'Read a charging session request',
        description:
          "The decision (pending until decided), its reason, timestamps and the callback delivery state with every attempt. Never the driver token; the callback URL without its query; the receiver's answers only to a caller bearing ADMIN_TOKEN.",
        tags: ['charging sessions'],
        params: SessionParams,
        response: { 200: SessionView, 401: Problem, 404: Problem, 429: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const id = request.params.request_id.toLowerCase();
      const caller = request.caller ?? { client: null, operator: false };
      const found = isUuid(id)
        ? await storeCall(deps.store.getSession(id), deps.readTimeoutMs)
        : null;
      // A client sees its own requests only; another's are as unknown to it as a wrong id.
      const session =
        found !== null && (caller.operator || found.clientId === (caller.client?.id ?? null))
          ? found
          : null;
      if (!session) {
        return sendProblem(
          reply,
          problem(404, 'SESSION_NOT_FOUND', {
            instance: request.url,
            detail: 'No request has this id.',
          }),
        );
      }
      const attempts = await storeCall(deps.store.listCallbackAttempts(id), deps.readTimeoutMs);
      return reply.send(sessionView(session, attempts, { operator: caller.operator }));
    },
  );
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The callback URL as shown to anyone who knows the request id: scheme, host, port and path.
 * Its query, fragment and credentials often carry a receiver's secret, and are left out.
 */
export function publicCallbackUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '';
  }
}

/** `operator`: the caller proved to be an operator, and also sees the receivers' answers. */
export function sessionView(
  s: SessionRecord,
  attempts: CallbackAttempt[],
  viewer: { operator: boolean } = { operator: false },
) {
  return {
    request_id: s.requestId,
    station_id: s.stationId,
    driver_token_hash_prefix: fingerprintOf(s.tokenHash),
    decision: s.decision,
    reason: s.reason,
    authorization_latency_ms: s.authLatencyMs,
    accepted_at: new Date(s.acceptedAt).toISOString(),
    decided_at: iso(s.decidedAt),
    decision_source: s.decisionSource,
    decided_by: decidedBy(s.decision, s.reason),
    authorization_reference: s.details.authorizationReference,
    allowed_evses: s.details.allowedEvses,
    display_text: s.details.displayText,
    callback: {
      url: viewer.operator ? s.callbackUrl : publicCallbackUrl(s.callbackUrl),
      state: s.callback.state,
      attempts: s.callback.attempts,
      last_attempt_at: iso(s.callback.lastAttemptAt),
      delivered_at: iso(s.callback.deliveredAt),
      next_attempt_at: iso(s.callback.nextAttemptAt),
      history: attempts.map((a) => ({
        attempt: a.attempt,
        started_at: new Date(a.startedAt).toISOString(),
        duration_ms: a.durationMs,
        status_code: a.statusCode,
        error: a.error,
        response_snippet: viewer.operator ? a.responseSnippet : null,
      })),
    },
  };
}
