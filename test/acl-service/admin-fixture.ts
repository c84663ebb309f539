import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, expect } from 'vitest';
import type { AclStore } from '../../src/acl-service/acl.js';
import { createSqliteAclStore } from '../../src/acl-service/acl-sqlite.js';
import { AUTHORIZE_PATH } from '../../src/contract/authorization.js';
import { createAuthService } from '../../src/acl-service/service.js';
import { createTokenHasher } from '../../src/lib/token-hash.js';
import { logSink } from '../helpers/log-sink.js';

/**
 * A reference authorization service with the ACL admin API on a real port, over a SQLite ACL in
 * a temporary directory, logging at trace level into `lines`. After each test, no admin answer
 * and no log line may contain a test token or its full hash.
 */

export const hasher = createTokenHasher('admin-test-key-0123456789abcdef012345678');
export const ADMIN_TOKEN = 'admin-secret-0123456789';
export const STATION = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';
export const OTHER_STATION = '7c1e4a9d-2b3f-4e8a-9c6d-5f0a1b2c3d4e';
export const TOKEN = 'DRIVER-CARD-0001-abcdefghij';
export const OTHER_TOKEN = 'DRIVER-CARD-0002-abcdefghij';
export const ENTRIES = '/admin/v1/acl/entries';
export const IMPORT = '/admin/v1/acl/import';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => Record<string, unknown>;
}

export interface AdminFixture {
  acl: () => AclStore;
  /** Log lines written so far, and the service's logger. */
  lines: () => string[];
  log: () => FastifyBaseLogger;
  /** Restarts the service with these options (the same ACL). */
  restart: (options: { adminToken?: string }) => Promise<void>;
  call: (method: string, path: string, body?: unknown, auth?: string | null) => Promise<Answer>;
  ask: (token: string, station?: string) => Promise<Record<string, unknown>>;
  createEntry: (body: Record<string, unknown>) => Promise<string>;
  /** Tokens that must appear in no answer and no log line; each test may add its own. */
  secrets: string[];
}

export function useAdminService(): AdminFixture {
  let dir: string;
  let acl: AclStore;
  let app: FastifyInstance | undefined;
  let base: string;
  // One sink per test, kept across restarts: the check after each test sees every line.
  let sink = logSink();
  let answers: string[] = [];
  const secrets: string[] = [];

  async function start(options: { adminToken?: string }) {
    const logger = pino({ level: 'trace' }, sink.stream);
    app = createAuthService({ acl, hasher, logger, ...options });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chargegate-acl-admin-'));
    acl = createSqliteAclStore({ file: join(dir, 'acl.db') });
    sink = logSink();
    answers = [];
    secrets.splice(0, secrets.length, TOKEN, OTHER_TOKEN, hasher.hash(TOKEN));
    await start({ adminToken: ADMIN_TOKEN });
  });

  afterEach(async () => {
    await app?.close();
    await acl.close();
    rmSync(dir, { recursive: true, force: true });
    for (const text of [...answers, ...sink.lines]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    auth: string | null = `Bearer ${ADMIN_TOKEN}`,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (auth !== null) headers.authorization = auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    answers.push(text);
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: () => JSON.parse(text) as Record<string, unknown>,
    };
  }

  return {
    acl: () => acl,
    lines: () => sink.lines,
    log: () => {
      if (app === undefined) throw new Error('the service is not running');
      return app.log;
    },
    secrets,
    restart: async (options) => {
      await app?.close();
      await start(options);
    },
    call,
    ask: async (token, station = STATION) => {
      const body = { station_id: station, driver_token: token };
      const answer = await call('POST', AUTHORIZE_PATH, body);
      expect(answer.status).toBe(200);
      return answer.json();
    },
    createEntry: async (body) => {
      const answer = await call('POST', ENTRIES, body);
      expect(answer.status).toBe(201);
      return String(answer.json().id);
    },
  };
}
