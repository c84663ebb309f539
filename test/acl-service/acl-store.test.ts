import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAcl, type AclEntry, type AclEntryStatus } from '../../src/acl-service/acl.js';
import { bundledAclPath, loadAclFile } from '../../src/acl-service/acl-file.js';
import { createMemoryAclStore } from '../helpers/acl-memory.js';
import { createSqliteAclStore } from '../../src/acl-service/acl-sqlite.js';
import { createTokenHasher } from '../../src/lib/token-hash.js';
import { aclStoreContract } from './acl-store.contract.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'chargegate-acl-store-'));
const hash = (n: number) => n.toString(16).padStart(64, '0');
const entry = (n: number, overrides: Partial<AclEntry> = {}): AclEntry => ({
  tokenHash: hash(n),
  status: 'active',
  ...overrides,
});

aclStoreContract('memory', (now) => {
  const store = createMemoryAclStore([], { now });
  return Promise.resolve({ store, cleanup: () => store.close() });
});

aclStoreContract('SQLite', (now) => {
  const dir = tempDir();
  const store = createSqliteAclStore({ file: join(dir, 'acl.db'), now });
  const cleanup = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return Promise.resolve({ store, cleanup });
});

describe('SQLite ACL store file', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = join(dir, 'nested', 'acl.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps entries across closing and reopening the file', async () => {
    const first = createSqliteAclStore({ file });
    const result = await first.create(
      entry(1, { expiresAt: 1_000, stations: new Set(['b', 'a']), note: 'n' }),
    );
    await first.close();
    const second = createSqliteAclStore({ file });
    try {
      expect(result.created).toBe(true);
      expect(await second.find(hash(1))).toEqual(result.created ? result.entry : undefined);
      expect(await second.count()).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('shows a write made through another connection to the next find, without caching', async () => {
    const reader = createSqliteAclStore({ file });
    const writer = createSqliteAclStore({ file });
    try {
      expect(await reader.find(hash(1))).toBeUndefined();
      const created = await writer.create(entry(1));
      const id = created.created ? created.entry.id : '';
      expect(await reader.find(hash(1))).toMatchObject({ status: 'active' });
      await writer.update(id, { status: 'blocked' });
      expect(await reader.find(hash(1))).toMatchObject({ status: 'blocked' });
      await writer.delete(id);
      expect(await reader.find(hash(1))).toBeUndefined();
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });

  it('rolls a failing import back entirely', async () => {
    const store = createSqliteAclStore({ file });
    try {
      await store.create(entry(1));
      const bogus = entry(3, { status: 'paused' as AclEntryStatus });
      const entries = [entry(1, { status: 'blocked' }), entry(2), bogus];
      await expect(store.importEntries(entries, { mode: 'replace' })).rejects.toThrow(/CHECK/);
      expect(await store.count()).toBe(1);
      expect(await store.find(hash(1))).toMatchObject({ status: 'active' });
    } finally {
      await store.close();
    }
  });

  it('stores token hashes and station lists, nothing more about the token', async () => {
    const store = createSqliteAclStore({ file });
    await store.create(entry(1, { stations: new Set(['b', 'a']) }));
    await store.close();
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT token_hash, stations FROM acl_entries').all()).toEqual([
        { token_hash: hash(1), stations: '["a","b"]' },
      ]);
    } finally {
      db.close();
    }
  });
});

describe('seedAcl', () => {
  const hasher = createTokenHasher('seed-test-key-0123456789abcdef0123456789');

  it('imports the file entries into an empty store and reports how many', async () => {
    const store = createMemoryAclStore();
    const entries = await loadAclFile(bundledAclPath(), hasher);
    expect(await seedAcl(store, entries)).toBe(entries.length);
    expect(await store.count()).toBe(entries.length);
    expect(await store.find(hasher.hash('DEMO-BLOCKED-0002-abcdefgh'))).toMatchObject({
      status: 'blocked',
    });
  });

  it('leaves a store that has entries alone, so admin changes survive a restart', async () => {
    const dir = tempDir();
    const file = join(dir, 'acl.db');
    try {
      const entries = [entry(1), entry(2)];
      const first = createSqliteAclStore({ file });
      expect(await seedAcl(first, entries)).toBe(2);
      const one = await first.find(hash(1));
      await first.update(one?.id ?? '', { status: 'blocked' });
      await first.delete((await first.find(hash(2)))?.id ?? '');
      await first.close();

      const restarted = createSqliteAclStore({ file });
      expect(await seedAcl(restarted, entries)).toBe(0);
      expect(await restarted.find(hash(1))).toMatchObject({ status: 'blocked' });
      expect(await restarted.find(hash(2))).toBeUndefined();
      await restarted.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
