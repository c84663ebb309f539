import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * A small tmpfs of the suite's own as embedded mode's `DATA_DIR`, so that the disk can be
 * filled without filling the machine's. Mounting needs root (or CAP_SYS_ADMIN).
 */

/** Room for the SQLite files of a fault run, and little more: filling it is quick. */
const SIZE = '32m';

export function mountTmpfs(dir: string): { path: string; unmount(): void } | string {
  const path = join(dir, 'data');
  mkdirSync(path, { recursive: true });
  const mounted = spawnSync(
    'mount',
    ['-t', 'tmpfs', '-o', `size=${SIZE},mode=0700`, 'tmpfs', path],
    {
      encoding: 'utf8',
    },
  );
  if (mounted.status !== 0)
    return `mount -t tmpfs failed: ${mounted.stderr.trim() || mounted.error}`;
  return {
    path,
    unmount() {
      const done = spawnSync('umount', [path], { encoding: 'utf8' });
      if (done.status !== 0) throw new Error(`umount ${path}: ${done.stderr.trim()}`);
    },
  };
}

/** `PRAGMA integrity_check` of each SQLite file of the data directory: `ok`, or what is wrong. */
export function integrityOf(dataDir: string): Record<string, string> {
  const results: Record<string, string> = {};
  for (const name of ['queue.db', 'store.db', 'acl.db']) {
    const file = join(dataDir, name);
    if (!existsSync(file)) continue;
    const db = new Database(file);
    try {
      const rows = db.pragma('integrity_check') as { integrity_check: string }[];
      results[name] = rows.map((r) => r.integrity_check).join('; ');
    } finally {
      db.close();
    }
  }
  return results;
}
