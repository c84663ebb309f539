import { describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../src/lib/token-hash.js';
import {
  ADMIN_TOKEN,
  ENTRIES,
  IMPORT,
  OTHER_STATION,
  OTHER_TOKEN,
  TOKEN,
  hasher,
  useAdminService,
} from './admin-fixture.js';

const { acl, call, ask, createEntry, restart } = useAdminService();

describe('ACL admin API authentication', () => {
  it.each([
    ['no credentials', null],
    ['a wrong token', 'Bearer not-the-admin-token'],
    ['another scheme', `Basic ${ADMIN_TOKEN}`],
  ])('answers 401 with WWW-Authenticate to %s, before reading the body', async (_name, auth) => {
    for (const [method, path, body] of [
      ['GET', ENTRIES, undefined],
      ['POST', ENTRIES, { token: 'not valid at all' }],
      ['POST', IMPORT, { entries: 'nope' }],
    ] as const) {
      const answer = await call(method, path, body, auth);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="chargegate-admin"');
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.json()).toMatchObject({ code: 'ADMIN_UNAUTHORIZED', status: 401 });
    }
    expect(await acl().count()).toBe(0);
  });

  it('does not exist without an admin token', async () => {
    await restart({});
    expect((await call('GET', ENTRIES)).status).toBe(404);
    const document = (await call('GET', '/openapi.json')).json() as { paths: object };
    expect(Object.keys(document.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
  });
});

describe('ACL admin API entries', () => {
  it('applies every change to the next authorization', async () => {
    expect(await ask(TOKEN)).toEqual({ status: 'invalid', reason: 'unknown_token' });
    const created = await call('POST', ENTRIES, { token: TOKEN, status: 'active', note: 'n' });
    expect(created.status).toBe(201);
    const view = created.json();
    expect(created.headers.get('location')).toBe(`${ENTRIES}/${String(view.id)}`);
    expect(view).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      token_hash_prefix: fingerprintOf(hasher.hash(TOKEN)),
      status: 'active',
      expires_at: null,
      stations: null,
      note: 'n',
      created_at: expect.any(String) as unknown,
      updated_at: view.created_at,
    });
    const url = `${ENTRIES}/${String(view.id)}`;
    expect(await ask(TOKEN)).toEqual({ status: 'allowed', reason: 'active' });

    expect((await call('PATCH', url, { status: 'blocked' })).json()).toMatchObject({
      status: 'blocked',
      note: 'n',
    });
    expect(await ask(TOKEN)).toEqual({ status: 'not_allowed', reason: 'blocked' });

    await call('PATCH', url, { status: 'active', expires_at: '2020-01-01T00:00:00Z' });
    expect(await ask(TOKEN)).toEqual({ status: 'not_allowed', reason: 'expired' });

    const limited = await call('PATCH', url, { expires_at: null, stations: [OTHER_STATION] });
    expect(limited.json()).toMatchObject({ expires_at: null, stations: [OTHER_STATION] });
    expect(await ask(TOKEN)).toEqual({ status: 'not_allowed', reason: 'not_at_this_station' });
    expect(await ask(TOKEN, OTHER_STATION)).toEqual({ status: 'allowed', reason: 'active' });

    expect((await call('GET', `${ENTRIES}/${String(view.id).toUpperCase()}`)).status).toBe(200);
    expect((await call('DELETE', url)).status).toBe(204);
    expect(await ask(TOKEN)).toEqual({ status: 'invalid', reason: 'unknown_token' });
    for (const method of ['GET', 'DELETE']) {
      expect((await call(method, url)).json()).toMatchObject({
        status: 404,
        code: 'ACL_ENTRY_NOT_FOUND',
        title: 'Not found',
      });
    }
    expect((await call('PATCH', url, { note: 'x' })).status).toBe(404);
    expect((await call('GET', `${ENTRIES}/not-a-uuid`)).status).toBe(404);
  });

  it('answers 409 naming the existing entry when the token has one', async () => {
    const id = await createEntry({ token: TOKEN, status: 'active' });
    const again = await call('POST', ENTRIES, { token: TOKEN, status: 'blocked' });
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ACL_ENTRY_EXISTS', title: 'Conflict' });
    expect(again.json().detail).toContain(id);
    expect(await ask(TOKEN)).toEqual({ status: 'allowed', reason: 'active' });
  });

  it('validates a new entry like the file, naming every bad field without echoing it', async () => {
    const answer = await call('POST', ENTRIES, {
      token: 'too-short',
      status: 'paused',
      expires_at: '2030-01-01T00:00:00',
      stations: ['x'],
      colour: 'blue',
    });
    expect(answer.status).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'REQUEST_INVALID' });
    expect(answer.json().errors).toEqual([
      { field: 'token', message: 'must be 20 to 80 characters of A-Z a-z 0-9 - . _ ~' },
      { field: 'status', message: 'must be "active", "blocked" or "expired"' },
      {
        field: 'expires_at',
        message: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
      },
      {
        field: 'stations',
        message:
          'must be an array of station ids, each must be a UUID in canonical 8-4-4-4-12 hex form',
      },
      { field: 'body', message: '"colour" is not a known field' },
    ]);
    expect(answer.text).not.toContain('too-short');
    expect(await acl().count()).toBe(0);
  });

  it('refuses to change the token of an entry', async () => {
    const id = await createEntry({ token: TOKEN, status: 'active' });
    const answer = await call('PATCH', `${ENTRIES}/${id}`, { token: OTHER_TOKEN, status: 'x' });
    expect(answer.status).toBe(400);
    expect(answer.json().errors).toEqual([
      {
        field: 'token',
        message: 'cannot be changed: delete the entry and create one for the new token',
      },
      { field: 'status', message: 'must be "active", "blocked" or "expired"' },
    ]);
    expect(await ask(TOKEN)).toEqual({ status: 'allowed', reason: 'active' });
  });

  it('lists entries page by page, oldest first, never with a token or full hash', async () => {
    const tokens = [1, 2, 3, 4, 5].map((n) => `DRIVER-PAGED-000${n}-abcdefghij`);
    const ids: string[] = [];
    for (const token of tokens) ids.push(await createEntry({ token, status: 'active' }));
    const seen: string[] = [];
    let path: string | undefined = `${ENTRIES}?limit=2`;
    // Bounded: a cursor that does not advance must fail the test, not loop until the timeout.
    for (let pages = 0; path !== undefined && pages < 5; pages += 1) {
      const page = (await call('GET', path)).json() as { items: { id: string }[]; next?: string };
      seen.push(...page.items.map((item) => item.id));
      // Upper case on purpose: ids compare as lower-case strings, the cursor must too.
      path = page.next && `${ENTRIES}?limit=2&after=${page.next.toUpperCase()}`;
    }
    expect(seen).toEqual(ids);
    const all = await call('GET', ENTRIES);
    for (const token of tokens) {
      expect(all.text).not.toContain(token);
      expect(all.text).not.toContain(hasher.hash(token));
    }
    for (const bad of ['0', '501', '1.5', '1e2', 'ten']) {
      const answer = await call('GET', `${ENTRIES}?limit=${bad}`);
      expect(answer.status).toBe(400);
      expect(answer.json()).toMatchObject({ code: 'REQUEST_INVALID' });
    }
  });

  it('looks an entry up by its token, which travels in the body', async () => {
    const id = await createEntry({ token: TOKEN, status: 'blocked' });
    const found = await call('POST', '/admin/v1/acl/lookup', { token: TOKEN });
    expect(found.json()).toMatchObject({ id, status: 'blocked' });
    const missing = await call('POST', '/admin/v1/acl/lookup', { token: OTHER_TOKEN });
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'ACL_ENTRY_NOT_FOUND' });
    expect((await call('POST', '/admin/v1/acl/lookup', { token: 'short' })).status).toBe(400);
  });
});
