import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/service.js';

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
    const { stdout } = spawnSync(process.execPath, [file], { encoding: 'utf8' });
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
