import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange, splitUrl, type ExchangeRequest } from '../src/lib/http-exchange.js';
import { waitFor } from './helpers/wait.js';

type Script = (req: IncomingMessage, res: ServerResponse) => void;

/** A server whose answer each test scripts by path; it records every path it was asked. */
async function startServer(scripts: Record<string, Script>) {
  const seen: string[] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    open.add(res);
    res.on('close', () => open.delete(res));
    req.resume();
    req.on('end', () => scripts[req.url ?? '']?.(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    seen,
    close: async () => {
      for (const res of open) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const request = (origin: string, path: string, extra: Partial<ExchangeRequest> = {}) => ({
  origin,
  path,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  body: '{"a":1}',
  timeoutMs: 2_000,
  maxBodyBytes: 1_024,
  ...extra,
});

describe('exchange', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp(scripts: Record<string, Script>, connections = 4) {
    const server = await startServer(scripts);
    const agent = new Agent({ connections, headersTimeout: 0, bodyTimeout: 0 });
    cleanups.push(server.close, () => agent.close());
    return { server, agent };
  }

  it('returns the status, headers and whole body of an answer', async () => {
    const { server, agent } = await setUp({
      '/ok': (req, res) => {
        res.writeHead(201, { 'retry-after': '3', 'x-echo': req.headers['content-type'] ?? '' });
        res.end('{"status":"allowed"}');
      },
    });
    const result = await exchange(agent, request(server.origin, '/ok'));
    expect(result).toMatchObject({
      answered: true,
      statusCode: 201,
      cut: null,
      headers: { 'retry-after': '3', 'x-echo': 'application/json' },
    });
    expect(result.answered && result.body.toString()).toBe('{"status":"allowed"}');
  });

  it('keeps the first maxBodyBytes of a longer answer and stops reading', async () => {
    const { server, agent } = await setUp({
      '/long': (_req, res) => {
        res.writeHead(200);
        // Written in pieces and never ended: only cutting the exchange short settles it.
        res.write('x'.repeat(700));
        res.write('y'.repeat(700));
      },
    });
    const result = await exchange(agent, request(server.origin, '/long'));
    expect(result).toMatchObject({ answered: true, statusCode: 200, cut: 'too_long' });
    expect(result.answered && result.body.toString()).toBe('x'.repeat(700) + 'y'.repeat(324));
  });

  it('gives up at the timeout when no answer comes', async () => {
    const { server, agent } = await setUp({ '/hang': () => {} });
    const started = performance.now();
    const result = await exchange(agent, request(server.origin, '/hang', { timeoutMs: 100 }));
    const waited = performance.now() - started;
    expect(result).toMatchObject({ answered: false, timedOut: true });
    expect(waited).toBeGreaterThanOrEqual(95);
    expect(waited).toBeLessThan(1_500);
  });

  it('returns what came before the timeout cut an answer short', async () => {
    const { server, agent } = await setUp({
      '/slow': (_req, res) => {
        res.writeHead(503);
        res.write('partial');
      },
    });
    const result = await exchange(agent, request(server.origin, '/slow', { timeoutMs: 150 }));
    expect(result).toMatchObject({ answered: true, statusCode: 503, cut: 'timeout' });
    expect(result.answered && result.body.toString()).toBe('partial');
  });

  it('reports a reset after the headers as an answer cut short by an error', async () => {
    const { server, agent } = await setUp({
      '/reset': (_req, res) => {
        res.writeHead(200);
        res.write('half', () => res.destroy());
      },
    });
    const result = await exchange(agent, request(server.origin, '/reset'));
    expect(result).toMatchObject({ answered: true, statusCode: 200, cut: 'error' });
    expect(result.answered && result.error).toBeInstanceOf(Error);
  });

  it('reports a refused connection as no answer, with the error code', async () => {
    const { server, agent } = await setUp({});
    const { origin } = server;
    await server.close();
    const result = await exchange(agent, request(origin, '/any'));
    expect(result).toMatchObject({ answered: false, timedOut: false });
    expect(!result.answered && (result.error as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('never sends a request that timed out while queued, and counts it until it leaves the queue', async () => {
    const { server, agent } = await setUp(
      {
        '/hang': () => {},
        '/queued': (_req, res) => res.writeHead(204).end(),
        '/ok': (_req, res) => res.writeHead(204).end(),
      },
      1,
    );
    // The only connection is held by a hanging request; the second waits behind it and times
    // out first, while still queued.
    const started = performance.now();
    const holding = exchange(agent, request(server.origin, '/hang', { timeoutMs: 300 }));
    const queued = await exchange(agent, request(server.origin, '/queued', { timeoutMs: 50 }));
    expect(queued).toMatchObject({ answered: false, timedOut: true });
    // It settled only once undici let go of it (after the hanging one was given up), so a
    // caller's permit or host slot bounded it the whole time.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(await holding).toMatchObject({ answered: false, timedOut: true });
    // Requests leave the queue in order: once a later one is answered, the abandoned one
    // would have been sent before it.
    expect(await exchange(agent, request(server.origin, '/ok'))).toMatchObject({
      statusCode: 204,
    });
    expect(server.seen).toEqual(['/hang', '/ok']);
  });

  it('takes a body of exactly maxBodyBytes as whole', async () => {
    const { server, agent } = await setUp({
      '/exact': (_req, res) => res.writeHead(200).end('z'.repeat(1_024)),
    });
    const result = await exchange(agent, request(server.origin, '/exact'));
    expect(result).toMatchObject({ answered: true, cut: null });
    expect(result.answered && result.body.length).toBe(1_024);
  });

  it('closes the connection of an answer it stopped reading', async () => {
    let closed = false;
    const { server, agent } = await setUp({
      '/long': (_req, res) => {
        res.on('close', () => (closed = true));
        res.writeHead(200);
        res.write('x'.repeat(2_000));
      },
    });
    const result = await exchange(agent, request(server.origin, '/long'));
    expect(result).toMatchObject({ cut: 'too_long' });
    await waitFor(() => closed, { timeoutMs: 2_000, message: 'the server side of it closed' });
  });

  it('waits past an interim 103 for the real answer', async () => {
    const { server, agent } = await setUp({
      '/hints': (_req, res) => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        // No final answer: the exchange must time out, not report 103.
      },
      '/hints-then-ok': (_req, res) => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        res.writeHead(200).end('done');
      },
    });
    const ok = await exchange(agent, request(server.origin, '/hints-then-ok'));
    expect(ok).toMatchObject({ answered: true, statusCode: 200, cut: null });
    const hanging = await exchange(agent, request(server.origin, '/hints', { timeoutMs: 100 }));
    expect(hanging).toMatchObject({ answered: false, timedOut: true });
  });

  it('splits a URL as undici request() would', () => {
    expect(splitUrl('http://user:pw@example.test:8080/a/b?x=1#frag')).toEqual({
      origin: 'http://example.test:8080',
      path: '/a/b?x=1',
    });
    expect(splitUrl('https://example.test')).toEqual({ origin: 'https://example.test', path: '/' });
    expect(() => splitUrl('blob:https://example.test/x')).toThrow(TypeError);
  });
});
