import { Agent, request } from 'undici';
import type { Cluster } from './cluster.js';
import type { SessionView } from './checker.js';
import { jsonLines, type Incarnation } from './processes.js';
import type { RequestRecord } from './load.js';

/**
 * What the suite observes after the load: the `GET` of every acknowledged request, the logs of
 * every process incarnation, and `/metrics`. Only what a client or an operator can see.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** `GET /api/v1/charging-sessions/{id}` for each id, from any running API. */
export async function fetchSessions(
  cluster: Pick<Cluster, 'apiUrls'>,
  ids: string[],
): Promise<Map<string, SessionView | null>> {
  const agent = new Agent({ connections: 16 });
  const sessions = new Map<string, SessionView | null>();
  try {
    await pool(ids, 16, async (id) => {
      const base = cluster.apiUrls()[0];
      if (base === undefined) return;
      try {
        const response = await request(`${base}/api/v1/charging-sessions/${id}`, {
          dispatcher: agent,
        });
        const text = await response.body.text();
        if (response.statusCode === 404) sessions.set(id, null);
        if (response.statusCode !== 200) return;
        const body = JSON.parse(text) as {
          decision: string;
          decided_at: string | null;
          callback: { state: string };
        };
        sessions.set(id, {
          decision: body.decision,
          callbackState: body.callback.state,
          decidedAt: body.decided_at === null ? null : Date.parse(body.decided_at),
        });
      } catch {
        // Left out: the checker counts an unanswered GET as a problem of that request.
      }
    });
  } finally {
    await agent.close();
  }
  return sessions;
}

/**
 * Waits until every acknowledged request has a delivered callback and a `GET` showing it
 * decided and delivered, or until the deadline. Returns how long it took, and the last `GET`s.
 */
export async function drain(
  cluster: Pick<Cluster, 'apiUrls' | 'callbacks'>,
  acked: RequestRecord[],
  timeoutMs: number,
): Promise<{ ms: number; timedOut: boolean; sessions: Map<string, SessionView | null> }> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const missing = new Set(acked.map((r) => r.requestId ?? ''));
  let seen = 0;
  while (missing.size > 0 && Date.now() < deadline) {
    for (; seen < cluster.callbacks.length; seen++) {
      missing.delete(cluster.callbacks[seen]?.webhookId ?? '');
    }
    if (missing.size > 0) await sleep(250);
  }
  // The store records a delivery just after the receiver's 200: poll the GETs that lag.
  const ids = acked.map((r) => r.requestId ?? '');
  const sessions = await fetchSessions(cluster, ids);
  const settled = (s: SessionView | null | undefined) =>
    s !== undefined && s !== null && s.decision !== 'pending' && s.callbackState === 'delivered';
  for (;;) {
    const lagging = ids.filter((id) => !settled(sessions.get(id)));
    if (lagging.length === 0 || Date.now() >= deadline) break;
    await sleep(500);
    for (const [id, view] of await fetchSessions(cluster, lagging)) sessions.set(id, view);
  }
  const timedOut = ids.some((id) => !settled(sessions.get(id)));
  return { ms: Date.now() - started, timedOut, sessions };
}

export async function fetchMetrics(cluster: Cluster): Promise<string[]> {
  return Promise.all(
    cluster.apiUrls().map(async (base) => {
      const response = await request(`${base}/metrics`);
      return response.body.text();
    }),
  );
}

export interface LogFindings {
  /** `request decided` lines with `applied: true`: the decisions logged per request id. */
  applied: Map<string, string[]>;
  /** Lines at level error or above, counted by message. */
  errors: Record<string, number>;
  /** Lines at level warn, counted by message. */
  warnings: Record<string, number>;
  /** Processes that ended without the suite asking. */
  crashes: string[];
  /** SIGTERMed incarnations that gave up on in-flight work or did not exit 0. */
  unfinishedShutdowns: string[];
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export function readLogs(incarnations: Incarnation[], output: (i: Incarnation) => string) {
  const findings: LogFindings = {
    applied: new Map(),
    errors: {},
    warnings: {},
    crashes: [],
    unfinishedShutdowns: [],
  };
  for (const incarnation of incarnations) {
    const label = `${incarnation.name}#${incarnation.number}`;
    const lines = jsonLines(output(incarnation));
    for (const line of lines) {
      const msg = String(line['msg']);
      const level = Number(line['level']);
      if (msg === 'request decided' && line['applied'] === true) {
        const id = String(line['request_id']);
        findings.applied.set(id, [...(findings.applied.get(id) ?? []), String(line['decision'])]);
      }
      if (level >= 50) count(findings.errors, msg);
      else if (level === 40) count(findings.warnings, msg);
      if (msg.startsWith('shutdown timeout')) {
        findings.unfinishedShutdowns.push(`${label}: ${msg}`);
      }
    }
    const { exit, signalled } = incarnation;
    if (exit !== undefined && signalled === undefined) {
      findings.crashes.push(`${label} exited by itself: code ${exit.code} signal ${exit.signal}`);
    }
    if (signalled?.signal === 'SIGTERM' && exit !== undefined && exit.code !== 0) {
      findings.unfinishedShutdowns.push(`${label}: SIGTERM, exit code ${exit.code}`);
    }
  }
  return findings;
}
