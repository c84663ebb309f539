import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Client, errors } from 'undici';
import {
  PATH,
  expectProblem,
  prototypesAreClean,
  startCheckedApi,
  type Answer,
  type CheckedApi,
} from './helpers/checked-api.js';
import {
  VALID_TEXT,
  anyJsonBody,
  deeplyNested,
  hugeBody,
  oneFieldCorrupted,
  pollutingBody,
  type BodyCase,
} from './helpers/bad-input-arbitraries.js';
import {
  ENCODINGS,
  KNOWN_METHODS,
  byteBody,
  contentType,
  encodableBody,
  encode,
  idempotencyKey,
  keyedBody,
  method,
  otherHeaders,
  path,
} from './helpers/http-input-arbitraries.js';
import { RAW_SECRET, malformedRequest } from './helpers/raw-request-arbitraries.js';
import { rawExchange } from './helpers/raw-http.js';

/**
 * Acceptance: "Bad input … every answer is a 4xx with a problem body, never a 5xx, nothing is
 * stored, and the process keeps serving." Start requests are judged by an independent oracle
 * (`helpers/start-request-oracle.ts`): valid ⇒ 202 and stored, invalid ⇒ the 4xx problem it
 * predicts and nothing stored. The runs below add up to about 5,500 requests.
 */

/** Fixed, so a failure reproduces; fast-check prints it (and the path) with the counterexample. */
const SEED = 20_261_121;

const run = <Ts extends unknown[]>(property: fc.IAsyncProperty<Ts>, numRuns: number) =>
  fc.assert(property, { seed: SEED, numRuns });

/** Routes a GET may answer below 400. */
const READ_ROUTES = ['/health/', '/metrics', '/openapi.json', '/docs'];

describe('bad input to the public API', () => {
  let api: CheckedApi;
  const postJson = (c: BodyCase, chunked = false) =>
    api.post(Buffer.from(c.text), { contentType: 'application/json', chunked, secret: c.secret });

  beforeAll(async () => {
    api = await startCheckedApi();
  });

  afterAll(async () => {
    await api.close();
  });

  it('answers JSON values of every type with 202 exactly when the oracle finds them valid, else a 4xx problem', async () => {
    await run(
      fc.asyncProperty(anyJsonBody, (c) => postJson(c)),
      600,
    );
  });

  it('rejects a valid body with one field corrupted (wrong type, near-miss UUID, bad token, odd URL) and stores nothing', async () => {
    await run(
      fc.asyncProperty(oneFieldCorrupted, (c) => postJson(c)),
      1_500,
    );
  });

  it('survives nesting thousands of levels deep, in the body and inside fields', async () => {
    await run(fc.asyncProperty(deeplyNested, fc.boolean(), postJson), 150);
  });

  it('answers bodies around and above 16 KiB by their size in bytes, with or without Content-Length', async () => {
    await run(fc.asyncProperty(hugeBody, fc.boolean(), postJson), 200);
  });

  it('refuses __proto__ and constructor.prototype keys at any depth without polluting Object.prototype', async () => {
    await run(
      fc.asyncProperty(pollutingBody, (c) => postJson(c)),
      500,
    );
    expect(({} as Record<string, unknown>)['chargegatePolluted']).toBeUndefined();
  });

  it('accepts only application/json, whatever the charset parameter, and decodes bodies as UTF-8', async () => {
    const property = fc.asyncProperty(
      contentType,
      encodableBody,
      fc.constantFrom(...ENCODINGS),
      (type, c, encoding) =>
        api.post(encode(c.text, encoding), { contentType: type, secret: c.secret }),
    );
    await run(property, 500);
  });

  it('refuses random bytes and invalid UTF-8 as a body', async () => {
    const property = fc.asyncProperty(
      byteBody,
      fc.constantFrom('application/json', 'application/octet-stream', undefined),
      (b, type) => api.post(b.bytes, { contentType: type, secret: b.secret }),
    );
    await run(property, 400);
  });

  it('validates Idempotency-Key values, non-ASCII bytes included, replays or refuses reused keys, and ignores other headers', async () => {
    const property = fc.asyncProperty(
      idempotencyKey,
      keyedBody,
      otherHeaders,
      (key, fields, other) =>
        api.post(Buffer.from(JSON.stringify(fields)), {
          contentType: 'application/json',
          key,
          other,
          secret: fields.driver_token,
        }),
    );
    await run(property, 500);
  });

  it('answers any method on any path below 500, with a problem for every 4xx it routes', async () => {
    const secret = 'DEMO-ALLOWED-0001-abcdefgh!';
    const secretBody = Buffer.from(VALID_TEXT.replace('DEMO-ALLOWED-0001-abcdefgh', secret));
    const property = fc.asyncProperty(
      method,
      path,
      fc.constantFrom(undefined, secretBody, Buffer.from('{')),
      async (m, p, body) => {
        const before = await api.stored();
        const mark = api.logMark();
        const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
        // Node's own parser refuses methods it does not know and bytes it does not allow in the
        // target: it answers 400 and drops the connection, which a client may see as a reset.
        const parserLevel = !KNOWN_METHODS.includes(m) || /[^\x21-\x7e]/.test(p);
        const fresh = new Client(api.origin);
        const answer: Answer = await api
          .send({ method: m, path: p, headers, body }, fresh)
          .catch((error: unknown) => {
            if (!(error instanceof errors.SocketError) || !parserLevel) throw error;
            return { status: 400, headers: {}, text: '' };
          })
          .finally(() => fresh.destroy());
        const context = `${m} ${p.slice(0, 80)} → ${answer.status} ${answer.text.slice(0, 200)}`;
        expect(answer.status, context).toBeLessThan(500);
        if (answer.status < 400) {
          expect(['GET', 'HEAD'], context).toContain(m);
          expect(
            READ_ROUTES.some((r) => p.startsWith(r)),
            context,
          ).toBe(true);
        } else if (m === 'HEAD' && !parserLevel) {
          expect(answer.headers['content-type'], context).toMatch(/^application\/problem\+json/);
        } else if (!parserLevel) {
          expectProblem(answer);
        }
        api.expectNotEchoed(answer.text, secret, mark);
        expect(await api.stored(), context).toEqual(before);
        expect(prototypesAreClean()).toBe(true);
      },
    );
    await run(property, 600);
  });

  it("answers a path with broken percent-encoding or an over-long id with a problem, not Fastify's own JSON body", async () => {
    const cases: [string, number][] = [
      [`${PATH}/%zz`, 400],
      ['/openapi.json%zz', 400],
      [`${PATH}/${'a'.repeat(101)}`, 414],
    ];
    for (const [p, status] of cases) {
      const answer = await api.send({ method: 'GET', path: p });
      expect(answer.status, p).toBe(status);
      expect(expectProblem(answer)['code'], p).not.toBe('REQUEST_MALFORMED_JSON');
    }
  });

  it('answers malformed HTTP on raw TCP with a 4xx or a closed connection, never a 5xx', async () => {
    const property = fc.asyncProperty(malformedRequest, async (c) => {
      const before = await api.stored();
      const mark = api.logMark();
      const outcome = await rawExchange(api.port, c.payload, { halfClose: c.halfClose });
      const answer = outcome.received.toString('latin1');
      const context = `${c.family}: ${answer.slice(0, 300)}`;
      expect(outcome.stuck, `the server kept the connection: ${context}`).toBe(false);
      expect(outcome.unparsed.toString('latin1'), `not HTTP: ${context}`).toBe('');
      for (const response of outcome.responses.filter((r) => r.status >= 200)) {
        expect(response.status, context).toBeGreaterThanOrEqual(400);
        expect(response.status, context).toBeLessThan(500);
      }
      api.expectNotEchoed(answer, RAW_SECRET, mark);
      expect(await api.stored(), context).toEqual(before);
      expect(prototypesAreClean()).toBe(true);
    });
    await run(property, 600);
  });

  it('still serves afterwards: live, accepting a valid request, and storing exactly what it accepted', async () => {
    const live = await api.send({ method: 'GET', path: '/health/live' });
    expect(live.status).toBe(200);
    await postJson({ text: VALID_TEXT });
    const { depth, sessions } = await api.stored();
    expect(sessions).toBe(api.acceptedCount());
    expect(depth).toBe(api.acceptedCount());
    expect(prototypesAreClean()).toBe(true);
  });
});
