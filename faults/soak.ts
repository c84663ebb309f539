import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import type { Callback } from './endpoints.js';
import { TOKEN_PATTERN, startLoad, type LoadOptions, type RequestRecord } from './load.js';
import type { ManagedProcess } from './processes.js';

/**
 * The soak: `chargegate start` alone, at half of the capacity measured just before, for a long
 * time, sampling what grows when something leaks: resident memory, event-loop delay and queue
 * depth. Growth is read from a least-squares line through the samples of the last part of the
 * run (the first minutes warm the heap and the caches).
 */
export interface SoakProfile {
  /** The bound on each series' growth over the window. */
  maxGrowth: Growth;
  /** How long the capacity is measured (closed loop, as many POSTs as the process takes). */
  capacityMs: number;
  soakMs: number;
  /** The growth is measured over this last part of the soak. */
  windowMs: number;
  sampleMs: number;
}

export const SOAK_PROFILES: Record<'ci' | 'full', SoakProfile> = {
  // Six samples on a shared machine cannot tell a neighbour's burst from a trend in delay or
  // depth: the short soak bounds memory at 10 % and catches a runaway (doubling) in the others.
  ci: {
    capacityMs: 10_000,
    soakMs: 100_000,
    windowMs: 60_000,
    sampleMs: 10_000,
    maxGrowth: { rss: 0.1, loopP99: 1, queueDepth: 1 },
  },
  // Nothing grows by 10 % or more over the last 15 minutes.
  full: {
    capacityMs: 30_000,
    soakMs: 1_200_000,
    windowMs: 900_000,
    sampleMs: 10_000,
    maxGrowth: { rss: 0.1, loopP99: 0.1, queueDepth: 0.1 },
  },
};
/** In-flight POSTs while measuring capacity: enough to keep both cores busy. */
const CAPACITY_CONCURRENCY = 64;
/** Accepted and not yet called back, at most, while measuring capacity: enough to keep every
 * stage of the pipeline busy, little enough to drain in a second or two. */
const CAPACITY_BACKLOG = 1_000;
/** The first part of the capacity run fills the pipeline; it is not counted. */
const CAPACITY_WARMUP_MS = 2_000;
/** Event-loop delay below this counts as this: on a shared two-core machine the p99 of a
 * 10 s interval moves by a few milliseconds from one sample to the next (13 to 17 ms in a
 * CI soak), which must not read as 20 % growth; a delay that stays under 50 ms is no leak. */
const LOOP_FLOOR_MS = 50;

export interface Sample {
  at: number;
  rssBytes: number;
  /** p99 of the event-loop delay since the previous sample (prom-client resets it on scrape). */
  loopP99Ms: number;
  /** Messages not acked yet, requests and callbacks. */
  queueDepth: number;
}

function metric(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

export async function sample(url: string): Promise<Sample> {
  const response = await request(`${url}/metrics`);
  const text = await response.body.text();
  const depth = (topic: string) =>
    metric(text, 'chargegate_queue_depth', `{topic="${topic}"}`) ?? Number.NaN;
  return {
    at: Date.now(),
    rssBytes: metric(text, 'chargegate_process_resident_memory_bytes') ?? Number.NaN,
    loopP99Ms: (metric(text, 'chargegate_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
    queueDepth: depth('requests') + depth('callbacks'),
  };
}

/** Relative growth along the least-squares line through `points`: (end − start) / start,
 * with `start` at least `floor`. */
export function growth(points: { at: number; value: number }[], floor: number): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((s, p) => s + p.at, 0) / n;
  const meanY = points.reduce((s, p) => s + p.value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.at - meanX) * (p.value - meanY);
    sxx += (p.at - meanX) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const first = points[0]?.at ?? 0;
  const last = points[n - 1]?.at ?? 0;
  const start = meanY + slope * (first - meanX);
  return (slope * (last - first)) / Math.max(start, floor);
}

export interface Growth {
  rss: number;
  loopP99: number;
  queueDepth: number;
}

/** Growth of each series over the last `windowMs` of the samples. */
export function growthOver(samples: Sample[], windowMs: number, ratePerSecond: number): Growth {
  const end = samples.at(-1)?.at ?? 0;
  const window = samples.filter((s) => s.at >= end - windowMs);
  const series = (read: (s: Sample) => number) => window.map((s) => ({ at: s.at, value: read(s) }));
  return {
    rss: growth(
      series((s) => s.rssBytes),
      1,
    ),
    loopP99: growth(
      series((s) => s.loopP99Ms),
      LOOP_FLOOR_MS,
    ),
    // A second's worth of traffic: an empty queue that holds a few messages is not growing.
    queueDepth: growth(
      series((s) => s.queueDepth),
      ratePerSecond,
    ),
  };
}

/**
 * Measures what `main` sustains end to end: POSTs are sent as long as fewer than
 * `CAPACITY_BACKLOG` are accepted and not yet called back (accepting is far cheaper than
 * deciding, so an open door would only measure the API and leave a backlog of minutes). The
 * capacity is the callback rate after the first `CAPACITY_WARMUP_MS`.
 */
export async function measureCapacity(
  main: ManagedProcess,
  callbacks: Callback[],
  base: Pick<LoadOptions, 'callbackUrl' | 'stations'>,
  ms: number,
): Promise<{ perSecond: number; records: RequestRecord[] }> {
  const before = callbacks.length;
  const load = startLoad({
    ...base,
    targets: () => [main.url],
    count: 0,
    ratePerSecond: 1,
    concurrency: CAPACITY_CONCURRENCY,
    maxDurationMs: ms,
  });
  const started = Date.now();
  const bursts: Promise<void>[] = [];
  let counted = 0;
  let acked = 0;
  let from: { at: number; callbacks: number } | undefined;
  while (Date.now() < started + ms) {
    for (; counted < load.records.length; counted++) {
      if (load.records[counted]?.outcome === 'acked') acked += 1;
    }
    const outstanding = acked + load.inFlight() - (callbacks.length - before);
    const room = Math.min(CAPACITY_CONCURRENCY, CAPACITY_BACKLOG - outstanding);
    if (room > 0) bursts.push(load.burst(main.url, room));
    if (from === undefined && Date.now() >= started + CAPACITY_WARMUP_MS) {
      from = { at: Date.now(), callbacks: callbacks.length };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const end = { at: Date.now(), callbacks: callbacks.length };
  await Promise.all(bursts);
  await load.done;
  await load.close();
  const window = from ?? { at: started, callbacks: before };
  const perSecond = ((end.callbacks - window.callbacks) * 1000) / (end.at - window.at);
  return { perSecond, records: load.records };
}

/** Samples `url` every `everyMs` until stopped; a failed scrape is skipped, not fatal. */
export function startSampler(url: string, everyMs: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (!running) break;
      try {
        samples.push(await sample(url));
      } catch {
        // A missed sample leaves a gap; the line through the others still holds.
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** `request decided … applied: true` lines per request id, and raw tokens, from a log file
 * read line by line (a soak's logs are too large to read whole). */
export async function scanLog(
  file: string,
  applied: Map<string, string[]>,
  sentTokens: Set<string>,
): Promise<{ tokensFound: number; errors: Record<string, number> }> {
  let tokensFound = 0;
  const errors: Record<string, number> = {};
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    for (const match of line.matchAll(TOKEN_PATTERN)) {
      if (sentTokens.has(match[0])) tokensFound += 1;
    }
    if (!line.startsWith('{')) continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (parsed['msg'] === 'request decided' && parsed['applied'] === true) {
      const id = String(parsed['request_id']);
      applied.set(id, [...(applied.get(id) ?? []), String(parsed['decision'])]);
    }
    if (Number(parsed['level']) >= 50) {
      const msg = String(parsed['msg']);
      errors[msg] = (errors[msg] ?? 0) + 1;
    }
  }
  return { tokensFound, errors };
}
