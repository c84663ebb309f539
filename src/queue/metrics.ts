import { Gauge } from 'prom-client';
import type { Metrics } from '../lib/metrics.js';
import { TOPICS, type Queue, type Topic } from './port.js';

/** Queue counts are read at most this often, however many scrapes come. */
const QUEUE_COUNTS_MAX_AGE_MS = 5_000;
/** A scrape waits at most this long for counts never read before; later ones never wait. */
const QUEUE_COUNTS_FIRST_WAIT_MS = 1_000;

type QueueCounts = Record<'depth' | 'oldestAgeSeconds' | 'deadLetters', Record<Topic, number>>;

/**
 * Gauges of the queue: depth, age of the oldest message and dead letters per topic. Counting
 * can be costly (a million messages waiting, a stalled Redis), so the counts are read in the
 * background at most every few seconds and a scrape answers with the last ones: many
 * concurrent scrapes cost one count, and a queue that does not answer never hangs `/metrics`.
 * `chargegate_queue_counts_age_seconds` tells how old they are.
 */
export function registerQueueGauges(metrics: Metrics, queue: Queue): void {
  let counts: QueueCounts | null = null;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | null = null;
  const perTopic = async (read: (topic: Topic) => Promise<number>) =>
    Object.fromEntries(
      await Promise.all(TOPICS.map(async (topic) => [topic, await read(topic)] as const)),
    ) as Record<Topic, number>;
  const refresh = (): Promise<void> => {
    reading ??= (async () => {
      const [depth, oldestAgeSeconds, deadLetters] = await Promise.all([
        perTopic((t) => queue.depth(t)),
        perTopic(async (t) => (await queue.oldestAgeMs(t)) / 1000),
        perTopic((t) => queue.deadLetterCount(t)),
      ]);
      counts = { depth, oldestAgeSeconds, deadLetters };
      readAt = performance.now();
    })()
      .catch(() => {}) // the last counts stay; their age shows they are stale
      .finally(() => {
        reading = null;
      });
    return reading;
  };
  const current = async (): Promise<QueueCounts | null> => {
    if (performance.now() - readAt > QUEUE_COUNTS_MAX_AGE_MS) {
      const pending = refresh();
      if (counts === null) await firstOf(pending, QUEUE_COUNTS_FIRST_WAIT_MS);
    }
    return counts;
  };
  const gauge = (name: string, help: string, pick: keyof QueueCounts) =>
    new Gauge({
      name,
      help,
      labelNames: ['topic'] as const,
      registers: [metrics.registry],
      async collect() {
        const values = (await current())?.[pick];
        if (values === undefined) return;
        for (const topic of TOPICS) this.set({ topic }, values[topic]);
      },
    });
  gauge('chargegate_queue_depth', 'Messages not yet acked (ready, delayed or in flight).', 'depth');
  gauge(
    'chargegate_queue_oldest_age_seconds',
    'Age of the oldest message not yet acked.',
    'oldestAgeSeconds',
  );
  gauge(
    'chargegate_dead_letters',
    'Dead letters held, waiting for a replay or the retention.',
    'deadLetters',
  );
  new Gauge({
    name: 'chargegate_queue_counts_age_seconds',
    help: 'How old the queue gauges are: counts are read in the background every few seconds.',
    registers: [metrics.registry],
    collect() {
      this.set(Number.isFinite(readAt) ? (performance.now() - readAt) / 1000 : -1);
    },
  });
}

/** Waits for `work`, but at most `ms`. */
async function firstOf(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
