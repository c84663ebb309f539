import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, type AclEntry } from '../../src/acl-service/acl.js';
import { bundledAclPath, loadAclFile, parseAcl } from '../../src/acl-service/acl-file.js';
import { createMemoryAclStore } from '../helpers/acl-memory.js';
import { AppError } from '../../src/lib/errors.js';
import { createTokenHasher } from '../../src/lib/token-hash.js';

const hasher = createTokenHasher('acl-test-key-0123456789abcdef0123456789');
const STATION = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';
const OTHER_STATION = '7c1e4a9d-2b3f-4e8a-9c6d-5f0a1b2c3d4e';
const NOW = Date.parse('2030-06-01T12:00:00Z');

function entry(overrides: Partial<AclEntry> = {}): AclEntry {
  return { tokenHash: 'h', status: 'active', ...overrides };
}

/** Runs `fn`, expecting an ACL_FILE_INVALID error, and returns its message. */
function aclError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('ACL_FILE_INVALID');
    return (error as AppError).message;
  }
  throw new Error('expected ACL_FILE_INVALID');
}

describe('authorize', () => {
  it('answers invalid with unknown_token when the ACL has no entry', () => {
    expect(authorize(undefined, STATION, NOW)).toEqual({
      status: 'invalid',
      reason: 'unknown_token',
    });
  });

  it('allows an active token without a station list at any station', () => {
    expect(authorize(entry(), STATION, NOW)).toEqual({ status: 'allowed', reason: 'active' });
    expect(authorize(entry(), OTHER_STATION, NOW)).toEqual({ status: 'allowed', reason: 'active' });
  });

  it('refuses a blocked token as blocked, even when it is also expired and at the wrong station', () => {
    const blocked = entry({
      status: 'blocked',
      expiresAt: NOW - 1,
      stations: new Set([OTHER_STATION]),
    });
    expect(authorize(blocked, STATION, NOW)).toEqual({ status: 'not_allowed', reason: 'blocked' });
  });

  it('refuses a token whose status is expired', () => {
    expect(authorize(entry({ status: 'expired' }), STATION, NOW)).toEqual({
      status: 'not_allowed',
      reason: 'expired',
    });
  });

  it('treats expires_at as the first instant at which the token is expired', () => {
    const expiring = entry({ expiresAt: NOW });
    expect(authorize(expiring, STATION, NOW - 1).status).toBe('allowed');
    expect(authorize(expiring, STATION, NOW)).toEqual({ status: 'not_allowed', reason: 'expired' });
  });

  it('refuses a token at a station missing from its list, comparing ids case-insensitively', () => {
    const restricted = entry({ stations: new Set([OTHER_STATION]) });
    expect(authorize(restricted, STATION, NOW)).toEqual({
      status: 'not_allowed',
      reason: 'not_at_this_station',
    });
    expect(authorize(restricted, OTHER_STATION.toUpperCase(), NOW).status).toBe('allowed');
  });
});

describe('parseAcl', () => {
  const TOKEN_A = 'TOKEN-AAAAAAAAAAAAAAAAAAAA';
  const TOKEN_B = 'TOKEN-BBBBBBBBBBBBBBBBBBBB';

  it('keeps only keyed hashes of the tokens and lower-cases station ids', async () => {
    const text = JSON.stringify({
      entries: [
        { token: TOKEN_A, status: 'active', stations: [OTHER_STATION.toUpperCase()], note: 'n' },
        { token: TOKEN_B, status: 'blocked', expires_at: '2030-01-01T01:00:00+01:00' },
      ],
    });
    const entries = parseAcl(text, 'test.json', hasher);
    expect(entries).toEqual([
      {
        tokenHash: hasher.hash(TOKEN_A),
        status: 'active',
        stations: new Set([OTHER_STATION]),
        note: 'n',
      },
      {
        tokenHash: hasher.hash(TOKEN_B),
        status: 'blocked',
        expiresAt: Date.parse('2030-01-01T00:00:00Z'),
      },
    ]);
    expect(JSON.stringify(entries)).not.toContain(TOKEN_A);
    expect(await createMemoryAclStore(entries).find(hasher.hash(TOKEN_B))).toMatchObject(
      entries[1] ?? {},
    );
    expect(await createMemoryAclStore(entries).find(hasher.hash('TOKEN-unknown-000000000'))).toBe(
      undefined,
    );
  });

  it('accepts a file with no entries, so every token is unknown', () => {
    expect(parseAcl('{"entries": []}', 'empty.json', hasher)).toEqual([]);
  });

  it('names the file and every bad entry by index and field, without printing tokens', () => {
    const shortToken = 'short-secret';
    const text = JSON.stringify({
      entries: [
        { token: TOKEN_A, status: 'active' },
        { token: shortToken, status: 'paused', expires_at: 'tomorrow', stations: ['nope'] },
        'not an object',
        { status: 'active', note: 42, colour: 'blue', constructor: 1 },
        { token: TOKEN_A, status: 'blocked', expires_at: '2030-01-01T00:00:00' },
        { token: TOKEN_B, status: 'active', [TOKEN_B]: 'active' },
      ],
    });
    const message = aclError(() => parseAcl(text, '/etc/chargegate/acl.json', hasher));
    expect(message.split('\n')).toEqual([
      'ACL file /etc/chargegate/acl.json is invalid:',
      '  - entries[1].token: must be 20 to 80 characters of A-Z a-z 0-9 - . _ ~',
      '  - entries[1].status: must be "active", "blocked" or "expired"',
      '  - entries[1].expires_at: must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
      '  - entries[1].stations: must be an array of station ids, each must be a UUID in canonical 8-4-4-4-12 hex form',
      '  - entries[2]: must be an object',
      '  - entries[3].token: is required',
      '  - entries[3].note: must be a string',
      '  - entries[3]: "colour" is not a known field',
      '  - entries[3]: "constructor" is not a known field',
      '  - entries[4].expires_at: must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
      '  - entries[4].token: duplicates the token of entries[0]',
      '  - entries[5]: has an unknown field with a long name (not shown: it may be a token)',
    ]);
    for (const token of [shortToken, TOKEN_A, TOKEN_B]) expect(message).not.toContain(token);
  });

  it('reports a JSON syntax error by line and column without quoting the text', () => {
    const text = `{\n  "entries": [\n    { "token": "${TOKEN_A}" "status": "active" }\n  ]\n}`;
    const message = aclError(() => parseAcl(text, 'broken.json', hasher));
    expect(message).toMatch(
      /^ACL file broken.json is invalid:\n {2}- is not valid JSON \(line 3, column \d+\)$/,
    );
    expect(message).not.toContain(TOKEN_A);
  });

  it('refuses a document that is not an object with an entries array', () => {
    expect(aclError(() => parseAcl('[]', 'a.json', hasher))).toContain(
      'must be a JSON object with an "entries" array',
    );
    expect(aclError(() => parseAcl('{"entrys": []}', 'b.json', hasher))).toContain(
      '"entrys" is not a known top-level field (only "entries" is)',
    );
    expect(aclError(() => parseAcl('{"entries": {}}', 'c.json', hasher))).toContain(
      'entries: must be an array',
    );
  });
});

describe('loadAclFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chargegate-acl-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names a file that cannot be read', async () => {
    const path = join(dir, 'missing.json');
    await expect(loadAclFile(path, hasher)).rejects.toMatchObject({
      code: 'ACL_FILE_INVALID',
      message: `ACL file ${path} cannot be read (ENOENT)`,
    });
  });

  it('reads a file saved with a byte order mark', async () => {
    const path = join(dir, 'bom.json');
    await writeFile(
      path,
      `\uFEFF{"entries": [{"token": "TOKEN-AAAAAAAAAAAAAAAAAAAA", "status": "active"}]}`,
    );
    expect(await loadAclFile(path, hasher)).toHaveLength(1);
  });
});

describe('the bundled example ACL', () => {
  const OUTCOMES: [token: string, station: string, status: string, reason: string][] = [
    ['DEMO-ALLOWED-0001-abcdefgh', STATION, 'allowed', 'active'],
    ['DEMO-ALLOWED-0001-abcdefgh', OTHER_STATION, 'allowed', 'active'],
    ['DEMO-BLOCKED-0002-abcdefgh', STATION, 'not_allowed', 'blocked'],
    ['DEMO-EXPIRED-0003-abcdefgh', STATION, 'not_allowed', 'expired'],
    ['DEMO-EXPIRED-0004-abcdefgh', STATION, 'not_allowed', 'expired'],
    ['DEMO-STATION-0005-abcdefgh', STATION, 'not_allowed', 'not_at_this_station'],
    ['DEMO-STATION-0005-abcdefgh', OTHER_STATION, 'allowed', 'active'],
    ['DEMO-UNTIL-2099-0006-abcdefgh', STATION, 'allowed', 'active'],
    ['DEMO-UNKNOWN-0000-abcdefgh', STATION, 'invalid', 'unknown_token'],
  ];

  it('is found at the path the service uses when ACL_FILE is unset', () => {
    expect(bundledAclPath()).toMatch(/[/\\]acl[/\\]example\.json$/);
    expect(existsSync(bundledAclPath())).toBe(true);
  });

  it.each(OUTCOMES)('answers %s at %s with %s / %s', async (token, station, status, reason) => {
    const store = createMemoryAclStore(await loadAclFile(bundledAclPath(), hasher));
    const answer = authorize(await store.find(hasher.hash(token)), station, Date.now());
    expect(answer).toEqual({ status, reason });
  });
});
