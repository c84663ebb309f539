import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The import rules of docs/architecture.md ("Which folder may import which"). */
const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every file under src/ with what it imports: packages by name, project files by their path
 * relative to src/ (`queue/port.ts`). */
const FILES = sourceFiles(SRC).map((path) => {
  const file = relative(SRC, path);
  const text = readFileSync(path, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
  const imports = specifiers.map((s) =>
    s.startsWith('.') ? relative(SRC, join(path, '..', s)).replace(/\.js$/, '.ts') : s,
  );
  return { file, imports };
});

const DRIVERS = ['better-sqlite3', 'pg', 'ioredis'];
const ADAPTERS = ['queue/sqlite.ts', 'queue/redis.ts', 'queue/redis-scripts.ts'].concat([
  'store/sqlite.ts',
  'store/postgres.ts',
  'store/migrations.ts',
  'clients/sqlite.ts',
  'clients/postgres.ts',
  'stations/sqlite.ts',
  'stations/postgres.ts',
]);
const folderOf = (file: string) => (file.includes('/') ? file.split('/')[0]! : '');

describe('the layering of src/', () => {
  it('reads the imports of every source file', () => {
    expect(FILES.length).toBeGreaterThan(50);
    expect(FILES.find((f) => f.file === 'main.ts')?.imports).toContain('adapters.ts');
  });

  it('imports a database driver only in adapter files and the SQLite helpers', () => {
    const allowed = (file: string) =>
      ADAPTERS.includes(file) ||
      /^authorization\/(acl-sqlite|acl-postgres|rate-limit-redis|decision-cache-redis)\.ts$/.test(
        file,
      ) ||
      /^lib\/(sqlite|group-commit)\.ts$/.test(file);
    const offenders = FILES.filter(
      (f) => !allowed(f.file) && f.imports.some((i) => DRIVERS.includes(i)),
    ).map((f) => f.file);
    expect(offenders).toEqual([]);
  });

  it('reaches the queue and the store from api/, worker/ and callbacks/ only through their ports', () => {
    const offenders = FILES.filter((f) =>
      ['api', 'worker', 'callbacks'].includes(folderOf(f.file)),
    ).flatMap((f) => f.imports.filter((i) => ADAPTERS.includes(i)).map((i) => `${f.file} → ${i}`));
    expect(offenders).toEqual([]);
  });

  it('chooses adapters in adapters.ts, used only by the entry points', () => {
    const users = FILES.filter((f) => f.imports.includes('adapters.ts')).map((f) => f.file);
    expect(users.sort()).toEqual(
      [
        'authorization/role.ts',
        'clients-cli.ts',
        'dead-letters-cli.ts',
        'main.ts',
        'worker/thread.ts',
      ].sort(),
    );
  });

  it('keeps store/ on lib/ alone, and lib/ free of the layers but two types', () => {
    const outside = (folder: string, allowed: (i: string) => boolean) =>
      FILES.filter((f) => folderOf(f.file) === folder).flatMap((f) =>
        f.imports
          .filter((i) => i.endsWith('.ts') && folderOf(i) !== folder && !allowed(i))
          .map((i) => `${f.file} → ${i}`),
      );
    expect(outside('store', (i) => folderOf(i) === 'lib')).toEqual([]);
    expect(
      outside('queue', (i) => folderOf(i) === 'lib' || ['errors.ts', 'store/port.ts'].includes(i)),
    ).toEqual([]);
    expect(
      outside('lib', (i) => ['queue/port.ts', 'authorization/circuit-breaker.ts'].includes(i)),
    ).toEqual([]);
  });
});
