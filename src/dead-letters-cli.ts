import { parseArgs } from 'node:util';
import type { Config } from './config/config.js';
import { deadLettersOf, openAdapters } from './wiring/adapters.js';
import { ERROR_CODES } from './lib/errors.js';

export const DEAD_LETTERS_USAGE = `Usage:
  chargegate dead-letters list [--limit N] [--after ID]   one JSON line per dead-lettered callback
  chargegate dead-letters replay <id>                      replay one (same webhook-id)
  chargegate dead-letters replay --all                     replay every dead letter
  chargegate dead-letters purge                            delete those older than DEAD_LETTER_RETENTION

Works on the configured queue and store (DATA_DIR, or REDIS_URL/DATABASE_URL) directly, so it
needs no running API. The admin API offers list and replay under /admin/v1/dead-letters.`;

const write = (line: string) => process.stdout.write(`${line}\n`);

/** Runs `chargegate dead-letters …`; returns the exit code. */
export async function runDeadLetters(args: string[], config: Config): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      limit: { type: 'string', default: '50' },
      after: { type: 'string' },
      all: { type: 'boolean', default: false },
    },
  });
  const [action, id, ...extra] = positionals;
  const limit = Number(values.limit);
  const valid =
    (action === 'list' &&
      id === undefined &&
      Number.isInteger(limit) &&
      limit >= 1 &&
      limit <= 10_000) ||
    (action === 'replay' && extra.length === 0 && (id === undefined) === values.all) ||
    (action === 'purge' && id === undefined);
  if (!valid) {
    process.stderr.write(`${DEAD_LETTERS_USAGE}\n`);
    return 1;
  }
  const { queue, store } = await openAdapters(config);
  try {
    const deadLetters = deadLettersOf(config, queue, store);
    if (action === 'list') {
      const page = await deadLetters.list({
        limit,
        ...(values.after === undefined ? {} : { after: values.after }),
      });
      for (const item of page.items) write(JSON.stringify(item));
      if (page.next !== undefined) process.stderr.write(`more: --after ${page.next}\n`);
      return 0;
    }
    if (action === 'purge') {
      write(`purged ${await deadLetters.purgeExpired()}`);
      return 0;
    }
    if (values.all) {
      write(`replayed ${await deadLetters.replayAll()}`);
      return 0;
    }
    const result = await deadLetters.replay(id ?? '');
    if (result === null) {
      process.stderr.write(`no dead letter ${id ?? ''} (replayed or purged already?)\n`);
      return 1;
    }
    if ('refused' in result) {
      process.stderr.write(
        `dead letter ${id ?? ''} (request ${result.requestId}) is not replayed (${result.refused}): ${ERROR_CODES[result.refused]}\n`,
      );
      return 1;
    }
    write(`replayed ${id ?? ''} (request ${result.replayed})`);
    return 0;
  } finally {
    await queue.close();
    await store.close();
  }
}
