import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ACL_MIGRATIONS } from '../src/acl-service/acl-postgres.js';
import { loadMigrations } from '../src/lib/migration-files.js';
import { STORE_MIGRATIONS } from '../src/store/postgres.js';

describe('numbered migration files', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A directory holding `files` (name → SQL), as a URL the loader takes. */
  function directoryOf(files: Record<string, string>): URL {
    dir = mkdtempSync(join(tmpdir(), 'chargegate-migrations-'));
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
    return pathToFileURL(`${dir}/`);
  }

  it('reads version and name from each file name, in version order, the SQL as written', () => {
    const migrations = loadMigrations(
      directoryOf({
        '010-add-the-tenth.sql': 'SELECT 10;\n',
        '002-add-a_column.sql': 'ALTER TABLE t ADD COLUMN c text;\n',
        '001-create-t.sql': '-- the first\nCREATE TABLE t (id text);\n',
        ...Object.fromEntries(
          [3, 4, 5, 6, 7, 8, 9].map((n) => [`00${n}-step-${n}.sql`, `SELECT ${n};`]),
        ),
      }),
    );
    expect(migrations.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(migrations[0]).toEqual({
      version: 1,
      name: 'create t',
      sql: '-- the first\nCREATE TABLE t (id text);\n',
    });
    expect(migrations[1]?.name).toBe('add a_column');
    expect(migrations[9]?.name).toBe('add the tenth');
  });

  it('starts at the first version asked for', () => {
    const url = directoryOf({ '002-b.sql': '', '003-c.sql': '' });
    expect(loadMigrations(url, 2).map((m) => m.version)).toEqual([2, 3]);
    expect(() => loadMigrations(url)).toThrow(/lacks migration 1 \(next is 2\)/);
  });

  it('refuses a gap between versions', () => {
    const url = directoryOf({ '001-a.sql': '', '003-c.sql': '' });
    expect(() => loadMigrations(url)).toThrow(/lacks migration 2 \(next is 3\)/);
  });

  it('refuses two files of one version', () => {
    const url = directoryOf({ '001-a.sql': '', '001-b.sql': '', '002-c.sql': '' });
    expect(() => loadMigrations(url)).toThrow(/holds migration 1 twice/);
  });

  it('refuses a file not named NNN-name.sql', () => {
    for (const name of [
      '001-a.txt',
      'a.sql',
      '001.sql',
      '001--a.sql',
      '001-A b.sql',
      'README.md',
    ]) {
      const url = directoryOf({ '001-a.sql': '', [name]: '' });
      expect(() => loadMigrations(url), name).toThrow(/is not named NNN-name\.sql/);
      rmSync(dir ?? '', { recursive: true });
    }
  });

  // The history tables of databases already migrated hold these names: renaming a released file
  // would not break them (only versions are compared), but the names are kept as released.
  it('keeps the released names of the PostgreSQL migrations', () => {
    expect(STORE_MIGRATIONS.map((m) => [m.version, m.name])).toEqual([
      [1, 'create sessions'],
      [2, 'add decision sources and authorization details'],
      [3, 'add the client of each session'],
      [4, 'history of the operator console'],
    ]);
    expect(ACL_MIGRATIONS.map((m) => [m.version, m.name])).toEqual([[1, 'create acl_entries']]);
  });
});
