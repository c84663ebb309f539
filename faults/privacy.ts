import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Cluster } from './cluster.js';
import { TOKEN_PATTERN } from './load.js';

/**
 * The privacy check: the raw driver tokens the load sent must appear nowhere in what the
 * processes logged, in the decision store, or in `/metrics`. A token is searched whole and by
 * its 24 random characters alone, so a token that lost its `FLT-X-` prefix (sliced, re-encoded
 * as part of a longer word) is still found.
 */
export class TokenFinder {
  readonly #tokens: Set<string>;
  readonly #randomParts: Map<string, string>;

  constructor(tokens: Iterable<string>) {
    this.#tokens = new Set(tokens);
    this.#randomParts = new Map([...this.#tokens].map((t) => [t.slice(6), t]));
  }

  /** The sent tokens that occur in `text`. */
  find(text: string): Set<string> {
    const found = new Set<string>();
    for (const match of text.matchAll(TOKEN_PATTERN)) {
      if (this.#tokens.has(match[0])) found.add(match[0]);
    }
    for (const word of text.split(/[^A-Za-z0-9_-]+/)) {
      for (let i = 0; i + 24 <= word.length; i++) {
        const token = this.#randomParts.get(word.slice(i, i + 24));
        if (token !== undefined) found.add(token);
      }
    }
    return found;
  }
}

export interface PrivacySource {
  /** What was searched, e.g. `logs`, `decision store`, `/metrics`. */
  name: string;
  /** Bytes (or characters) searched. */
  size: number;
  /** Distinct sent tokens found. */
  found: number;
  /** Where, for the first few: file or table, never the token itself. */
  where: string[];
  /** A leak here is a violation; informational sources (e.g. Redis's AOF) only report. */
  enforced: boolean;
}

function scanFiles(
  finder: TokenFinder,
  name: string,
  files: string[],
  enforced: boolean,
): PrivacySource {
  const source: PrivacySource = { name, size: 0, found: 0, where: [], enforced };
  const all = new Set<string>();
  for (const file of files.filter((f) => existsSync(f))) {
    // latin1 keeps every byte as one character: tokens are ASCII, binary pages stay searchable.
    const text = readFileSync(file).toString('latin1');
    source.size += text.length;
    const found = finder.find(text);
    if (found.size > 0) source.where.push(`${file}: ${found.size}`);
    for (const token of found) all.add(token);
  }
  source.found = all.size;
  return source;
}

function scanText(
  finder: TokenFinder,
  name: string,
  texts: string[],
  enforced: boolean,
): PrivacySource {
  const found = finder.find(texts.join('\n'));
  return {
    name,
    size: texts.reduce((sum, t) => sum + t.length, 0),
    found: found.size,
    where: found.size > 0 ? [`${found.size} tokens`] : [],
    enforced,
  };
}

/** Every row of every table of the run's schema, as text. */
async function postgresRows(url: string, schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    );
    const texts: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(
        `SELECT t::text AS row FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table_name)} t`,
      );
      texts.push(`-- ${table_name}`, ...rows.rows.map((r) => r.row));
    }
    return texts;
  } finally {
    await client.end();
  }
}

function filesIn(dir: string, filter: (name: string) => boolean = () => true): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter(filter)
        .map((name) => join(dir, name))
    : [];
}

/**
 * Scans every source. Enforced: all logs (every incarnation of every process), the decision
 * store (embedded: `store.db` and its WAL; distributed: every table of the schema), the
 * `/metrics` texts, and the live queue after the drain (distributed: every Redis key). Reported
 * only: the embedded queue files and Redis's append-only files, which are the queue's durable
 * log of messages that must carry the raw token until their callback is delivered.
 */
export async function scanForTokens(
  cluster: Cluster,
  tokens: { sent: string[]; delivered: string[] },
  metricsTexts: string[],
): Promise<PrivacySource[]> {
  const finder = new TokenFinder(tokens.sent);
  // Messages of unacknowledged POSTs may still wait out their orphan grace period in the queue;
  // the tokens of delivered callbacks must be gone from it.
  const deliveredFinder = new TokenFinder(tokens.delivered);
  const sources = [
    scanFiles(finder, 'logs', filesIn(cluster.logDir), true),
    scanText(finder, '/metrics', metricsTexts, true),
  ];
  const data = cluster.dataDir;
  if (cluster.mode === 'embedded') {
    sources.push(
      scanFiles(
        finder,
        'decision store',
        filesIn(data, (n) => n.startsWith('store.db')),
        true,
      ),
      scanFiles(
        deliveredFinder,
        'queue files (queue.db and WAL), delivered',
        filesIn(data, (n) => n.startsWith('queue.db')),
        false,
      ),
    );
  } else {
    const rows =
      cluster.databaseUrl === undefined
        ? []
        : await postgresRows(cluster.databaseUrl, cluster.schema);
    sources.push(scanText(finder, 'decision store', rows, true));
    const redis = cluster.redis;
    if (redis !== undefined) {
      const live = [await redis.dump(cluster.prefix)];
      sources.push(scanText(deliveredFinder, 'live queue (Redis keys), delivered', live, true));
      sources.push(scanFiles(finder, 'Redis AOF', filesIn(redis.aofDir), false));
    }
  }
  return sources;
}
