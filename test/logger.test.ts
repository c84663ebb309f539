import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CENSOR, createLogger, REDACT_PATHS } from '../src/lib/logger.js';
import { tempDir } from './helpers/service.js';
import { logSink } from './helpers/log-sink.js';

const LOGGER = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'lib', 'logger.js')).href;

/** A worker thread that logs `lines` lines and exits at once, with or without the exit flush. */
function workerThatExits(lines: number, flushOnExit: boolean): string {
  return `
import { Worker, isMainThread } from 'node:worker_threads';
import { createLogger, flushLogSync } from '${LOGGER}';
if (isMainThread) {
  new Worker(new URL(import.meta.url));
} else {
  const logger = createLogger('info');
  ${flushOnExit ? 'process.on("exit", () => flushLogSync(logger));' : ''}
  for (let i = 0; i < ${lines}; i++) logger.info({ i }, 'line');
  process.exit(3);
}
`;
}

describe('asynchronous logs', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  afterEach(() => dir?.remove());

  const run = (script: string) => {
    dir = tempDir();
    const file = join(dir.path, 'script.mjs');
    writeFileSync(file, script);
    const { stdout, stderr, status } = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    // The thread's exit ends the process cleanly; a crash (the built logger missing, say) would
    // not, and must not pass as "lines lost".
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    return stdout.split('\n').filter((line) => line.startsWith('{'));
  };

  it('writes out a worker thread buffer when the thread exits abruptly, whole lines only', () => {
    const lines = run(workerThatExits(2_000, true));
    expect(lines).toHaveLength(2_000);
    expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(
      Array.from({ length: 2_000 }, (_, i) => i),
    );
  });

  it('loses the buffered lines of such a thread without the exit flush (what the flush is for)', () => {
    expect(run(workerThatExits(2_000, false)).length).toBeLessThan(2_000);
  });
});

describe('redaction', () => {
  const secret = (n: number) => `SECRET-TOKEN-${n}-abcdefghijklmnop`;
  const lines = (): Record<string, unknown>[] => [
    { driver_token: secret(1) },
    { session: { driver_token: secret(2), station_id: 'st-1' } },
    { outer: { inner: { driver_token: secret(3), kept: 1 } } },
    { list: [{ driver_token: secret(4) }, { other: 'kept' }] },
    { wrapped: { err: { command: { name: 'xadd', args: ['key', secret(5)] } } } },
    { err: Object.assign(new Error('boom'), { command: { name: 'xadd', args: [secret(6)] } }) },
    { frozen: Object.freeze({ driver_token: secret(7) }) },
    { failure: Object.assign(new Error('nested'), { driver_token: secret(8) }) },
    { req: { headers: { authorization: `Bearer ${secret(9)}`, cookie: secret(10) } } },
    { parse: { err: { rawPacket: secret(11), code: 'HPE' } } },
    { request_id: 'r-1', token: 'fp-1234', decision: 'allowed' },
    {
      err: new Error('outer', {
        cause: Object.assign(new Error('inner'), { driver_token: secret(13) }),
      }),
    },
    {
      getter: Object.defineProperty({}, 'driver_token', {
        get: () => secret(14),
        enumerable: true,
      }),
    },
    { dated: { at: new Date(0), driver_token: secret(15) } },
  ];
  const shown = (line: string) => {
    const fields = JSON.parse(line) as Record<string, unknown>;
    delete fields.time;
    delete fields.pid;
    return fields;
  };

  it('hides every driver token and credential, as the wildcard paths would, changing nothing logged', () => {
    const ours = logSink();
    const reference = logSink();
    const logger = createLogger('info', ours.stream);
    // pino applying the whole list itself, wildcards included: the behaviour to match.
    const wildcards = pino(
      { redact: { paths: REDACT_PATHS, censor: CENSOR }, base: { service: 'chargegate' } },
      reference.stream,
    );
    const given = lines();
    const before = lines();
    for (const [i, fields] of given.entries()) {
      logger.info(fields, `line ${i}`);
      wildcards.info(fields, `line ${i}`);
    }
    logger.child({ bound: { driver_token: secret(12) } }).info('child');
    wildcards.child({ bound: { driver_token: secret(12) } }).info('child');
    // A child of a child, and a child with options of its own (as the authorization service).
    const grandchild = (parent: typeof wildcards) =>
      parent
        .child({ role: 'worker' })
        .child({ deeper: { nested: { driver_token: secret(16) } } }, { level: 'info' })
        .info('grandchild');
    grandchild(logger);
    grandchild(wildcards);

    expect(ours.lines).toHaveLength(given.length + 2);
    expect(ours.lines.map(shown)).toEqual(reference.lines.map(shown));
    for (const line of ours.lines) expect(line).not.toContain('SECRET-TOKEN');
    expect(ours.lines.join('\n')).toContain('"message":"boom"');
    // The caller's objects are left as they were.
    expect(given).toEqual(before);
    expect((given[7]?.failure as Error).message).toBe('nested');
  });
});

describe('log line time', () => {
  it('is the ISO time of each line, also across lines written in the same millisecond', async () => {
    const { stream, lines } = logSink();
    const logger = createLogger('info', stream);
    const times: [number, number][] = [];
    for (let i = 0; i < 200; i += 1) {
      const before = Date.now();
      logger.info({ i }, 'line');
      times.push([before, Date.now()]);
      // Some lines in a later millisecond than the one before them.
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const logged = lines.map((line) => Date.parse((JSON.parse(line) as { time: string }).time));
    expect(logged).toHaveLength(200);
    logged.forEach((time, i) => {
      const [before, after] = times[i] ?? [Number.NaN, Number.NaN];
      expect(time).toBeGreaterThanOrEqual(before);
      expect(time).toBeLessThanOrEqual(after);
    });
    expect(new Set(logged).size).toBeGreaterThan(1);
  });
});
