import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadQuery } from '../src/lib/sql-files.js';

describe('a query kept in a .sql file', () => {
  let dir: string;
  const file = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return pathToFileURL(join(dir, name));
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chargegate-sql-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('has its names filled in and its comment lines left out', async () => {
    const url = await file(
      'q.sql',
      '-- Why the query is so.\nSELECT n FROM ${table}\n  -- and this\n  WHERE id = $1::text\n',
    );
    expect(loadQuery(url, { table: '"s".t' })).toBe('SELECT n FROM "s".t\n  WHERE id = $1::text');
  });

  it('refuses a placeholder without a value, naming it', async () => {
    const url = await file('missing.sql', 'SELECT 1 FROM ${table} JOIN ${other}');
    expect(() => loadQuery(url, { table: 't' })).toThrow(/no value for \$\{other\}/);
  });

  it('refuses a value the file does not use', async () => {
    const url = await file('unused.sql', 'SELECT 1 FROM ${table}');
    expect(() => loadQuery(url, { table: 't', tabel: 't' })).toThrow(/does not use tabel/);
  });
});
