import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, startBody } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** Every span in the OTLP/JSON export requests a collector received. */
function spansOf(collector: ScriptedServer): OtlpSpan[] {
  return collector.requests.flatMap((r) => {
    const body = JSON.parse(r.body) as {
      resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
    };
    return body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  });
}

describe('OpenTelemetry traces', () => {
  let dir: ReturnType<typeof tempDir>;
  let service: ServiceProcess | undefined;
  const servers: ScriptedServer[] = [];

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await service?.stop();
    for (const s of servers.splice(0)) await s.close();
    dir.remove();
  });

  it('follows one request from the POST through the authorization call to each callback attempt', async () => {
    const token = 'traced-token-0000000000001';
    const collector = await startScriptedServer(() => ({ status: 200, body: '{}' }));
    const auth = await startScriptedServer(() => ({
      status: 200,
      body: '{"status":"allowed","reason":"active"}',
    }));
    const receiver = await startScriptedServer((_, i) =>
      i === 0 ? { status: 503 } : { status: 204 },
    );
    servers.push(collector, auth, receiver);
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      AUTH_SERVICE_URL: `${auth.url}/authorize`,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      // The worker role in its own thread: the trace must cross the thread and the queue.
      WORKER_THREAD: 'true',
      CALLBACK_RETRY_SCHEDULE: '50ms',
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await call(service.url, 'POST', '/api/v1/charging-sessions', {
      body: startBody({ driver_token: token }, receiver.url),
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(answer.status).toBe(202);
    await waitFor(() => receiver.requests.length === 2, { message: 'two callback attempts' });
    // Stopping flushes the spans still batched in the process.
    await service.stop();
    service = undefined;

    await waitFor(() => spansOf(collector).length >= 4, { message: 'the exported spans' });
    const spans = spansOf(collector).filter((s) => s.traceId === traceId);
    expect(spans.map((s) => s.name).sort()).toEqual([
      'POST /api/v1/charging-sessions',
      'authorize',
      'callback attempt',
      'callback attempt',
    ]);
    const api = spans.find((s) => s.name.startsWith('POST'));
    const authorize = spans.find((s) => s.name === 'authorize');
    expect(api?.parentSpanId).toBe('00f067aa0ba902b7');
    expect(authorize?.parentSpanId).toBe(api?.spanId);
    for (const attempt of spans.filter((s) => s.name === 'callback attempt')) {
      expect(attempt.parentSpanId).toBe(authorize?.spanId);
    }
    const sent = String(auth.requests[0]?.headers['traceparent']);
    expect(sent).toMatch(new RegExp(`^00-${traceId}-${authorize?.spanId}-01$`));
    for (const request of collector.requests) expect(request.body).not.toContain(token);
  });

  it('exports nothing and sends no traceparent when no endpoint is configured', async () => {
    const auth = await startScriptedServer(() => ({
      status: 200,
      body: '{"status":"allowed","reason":"active"}',
    }));
    const receiver = await startScriptedServer(() => ({ status: 204 }));
    servers.push(auth, receiver);
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      AUTH_SERVICE_URL: `${auth.url}/authorize`,
    });
    await call(service.url, 'POST', '/api/v1/charging-sessions', {
      body: startBody({}, receiver.url),
    });
    await waitFor(() => receiver.requests.length === 1);
    expect(auth.requests[0]?.headers['traceparent']).toBeUndefined();
  });
});
