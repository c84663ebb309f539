import { describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../src/lib/token-hash.js';
import {
  ENTRIES,
  IMPORT,
  OTHER_STATION,
  OTHER_TOKEN,
  STATION,
  TOKEN,
  hasher,
  useAdminService,
} from './admin-fixture.js';

const { acl, call, ask, createEntry, lines, log, secrets } = useAdminService();

const THIRD_TOKEN = 'DRIVER-CARD-0003-abcdefghij';

describe('ACL admin API import', () => {
  it('validates every entry first, names each bad one, and changes nothing', async () => {
    await createEntry({ token: TOKEN, status: 'active' });
    const before = (await call('GET', ENTRIES)).text;
    const answer = await call(`POST`, `${IMPORT}?mode=replace`, {
      entries: [
        { token: OTHER_TOKEN, status: 'blocked' },
        { token: 'short', status: 'active' },
        { token: THIRD_TOKEN, status: 'paused', stations: [STATION, 'x'] },
        'not an entry',
        { token: OTHER_TOKEN, status: 'active' },
        { token: TOKEN, status: 'active', [THIRD_TOKEN]: true },
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'REQUEST_INVALID' });
    expect(answer.json().errors).toEqual([
      { field: 'entries[1].token', message: 'must be 20 to 80 characters of A-Z a-z 0-9 - . _ ~' },
      { field: 'entries[2].status', message: 'must be "active", "blocked" or "expired"' },
      {
        field: 'entries[2].stations',
        message:
          'must be an array of station ids, each must be a UUID in canonical 8-4-4-4-12 hex form',
      },
      { field: 'entries[3]', message: 'must be an object' },
      { field: 'entries[4].token', message: 'duplicates the token of entries[0]' },
      {
        field: 'entries[5]',
        message: 'has an unknown field with a long name (not shown: it may be a token)',
      },
    ]);
    secrets.push(THIRD_TOKEN);
    expect((await call('GET', ENTRIES)).text).toBe(before);
    expect(await ask(OTHER_TOKEN)).toEqual({ status: 'invalid', reason: 'unknown_token' });
  });

  it('upserts by default, keeping ids and the entries not imported', async () => {
    const id = await createEntry({ token: TOKEN, status: 'active', note: 'kept id' });
    const kept = await createEntry({ token: THIRD_TOKEN, status: 'active' });
    secrets.push(THIRD_TOKEN);
    const answer = await call('POST', IMPORT, {
      entries: [
        { token: TOKEN, status: 'blocked' },
        { token: OTHER_TOKEN, status: 'active', stations: [OTHER_STATION] },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      mode: 'upsert',
      imported: 2,
      created: 1,
      updated: 1,
      unchanged: 0,
      deleted: 0,
    });
    expect((await call('GET', `${ENTRIES}/${id}`)).json()).toMatchObject({
      status: 'blocked',
      note: null,
    });
    expect((await call('GET', `${ENTRIES}/${kept}`)).status).toBe(200);
    expect(await ask(TOKEN)).toEqual({ status: 'not_allowed', reason: 'blocked' });
    expect(await ask(OTHER_TOKEN, OTHER_STATION)).toEqual({ status: 'allowed', reason: 'active' });
  });

  it('replaces: entries whose token is not imported are deleted', async () => {
    await createEntry({ token: TOKEN, status: 'active' });
    await createEntry({ token: OTHER_TOKEN, status: 'active' });
    const answer = await call('POST', `${IMPORT}?mode=replace`, {
      entries: [{ token: OTHER_TOKEN, status: 'active' }],
    });
    expect(answer.json()).toMatchObject({ mode: 'replace', unchanged: 1, deleted: 1 });
    expect(await ask(TOKEN)).toEqual({ status: 'invalid', reason: 'unknown_token' });
    expect(await acl().count()).toBe(1);
    expect((await call('POST', `${IMPORT}?mode=merge`, { entries: [] })).status).toBe(400);
  });

  it('takes an import far above the 16 KiB of the other routes', async () => {
    const tokens = Array.from(
      { length: 2_000 },
      (_, n) => `BULK-${String(n).padStart(6, '0')}-abcdefghijk`,
    );
    const entries = tokens.map((token) => ({ token, status: 'active', stations: [STATION] }));
    const answer = await call('POST', IMPORT, { entries });
    expect(answer.json()).toMatchObject({ imported: 2_000, created: 2_000 });
    expect(await ask(tokens[1_999] ?? '')).toEqual({ status: 'allowed', reason: 'active' });
    const note = 'x'.repeat(17 * 1024);
    const tooLarge = await call('POST', ENTRIES, { token: TOKEN, status: 'active', note });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json()).toMatchObject({
      code: 'REQUEST_TOO_LARGE',
      detail: 'The request body exceeds 16384 bytes; nothing was changed.',
    });
  });
});

describe('ACL admin API documentation and logs', () => {
  it('documents the authorize endpoint and every admin route in /openapi.json', async () => {
    const document = (await call('GET', '/openapi.json')).json() as {
      paths: Record<string, Record<string, { tags?: string[]; security?: unknown }>>;
      components: { securitySchemes: unknown };
    };
    const routes = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'POST /api/v1/authorize',
        'GET /health/live',
        'GET /health/ready',
        'GET /admin/v1/acl/entries',
        'POST /admin/v1/acl/entries',
        'GET /admin/v1/acl/entries/{id}',
        'PATCH /admin/v1/acl/entries/{id}',
        'DELETE /admin/v1/acl/entries/{id}',
        'POST /admin/v1/acl/import',
        'POST /admin/v1/acl/lookup',
      ].sort(),
    );
    expect(document.components.securitySchemes).toEqual({
      adminToken: { type: 'http', scheme: 'bearer' },
    });
    const create = document.paths['/admin/v1/acl/entries']?.post;
    expect(create).toMatchObject({ tags: ['acl admin'], security: [{ adminToken: [] }] });
    expect(JSON.stringify(create)).toContain('"token_hash_prefix"');
  });

  it('logs who changed which entry by id and fingerprint, never the token', async () => {
    const id = await createEntry({ token: TOKEN, status: 'active' });
    await call('PATCH', `${ENTRIES}/${id}`, { status: 'blocked' });
    await call('POST', '/admin/v1/acl/lookup', { token: TOKEN });
    await call('POST', IMPORT, { entries: [{ token: OTHER_TOKEN, status: 'active' }] });
    await call('DELETE', `${ENTRIES}/${id}`);
    const entries = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((e) => e.msg === 'ACL entry created')).toMatchObject({
      acl_entry: id,
      token_fingerprint: fingerprintOf(hasher.hash(TOKEN)),
    });
    expect(entries.find((e) => e.msg === 'ACL entry deleted')).toMatchObject({ acl_entry: id });
    // Redaction is configured on the logger, so a careless future log line is covered too.
    const body = { token: TOKEN, entries: [{ token: OTHER_TOKEN }] };
    log().info({ token: TOKEN, entry: { token: TOKEN }, req: { body } }, 'redaction probe');
    const probe = lines().find((line) => line.includes('redaction probe')) ?? '';
    expect(JSON.parse(probe)).toMatchObject({
      token: '[redacted]',
      entry: { token: '[redacted]' },
    });
  });
});
