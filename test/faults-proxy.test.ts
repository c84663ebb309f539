import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../faults/proxy.js';
import { growth } from '../faults/soak.js';
import { waitFor } from './helpers/wait.js';

/**
 * The fault suite's TCP proxy (`faults/proxy.ts`) must do what each network fault claims:
 * forward untouched, delay, reset mid-exchange (after the server did the work), black-hole
 * and then let the held bytes through, and refuse when closed. The server is a real echo
 * server that counts what it received.
 */

let echo: Server;
const accepted = new Set<Socket>();
let received: string[];
let proxy: FaultProxy;
const clients: Socket[] = [];

beforeEach(async () => {
  received = [];
  echo = createServer((socket) => {
    // The proxy resets connections on purpose; the server side just sees them go.
    socket.on('error', () => {});
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk.toString('utf8'));
      socket.write(chunk);
    });
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  proxy = new FaultProxy('echo', (echo.address() as AddressInfo).port);
  await proxy.listen();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await proxy.close();
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => echo.close(resolve));
});

/** A client through the proxy that collects what it reads and how it ended. */
async function client() {
  const socket = connect(proxy.port, '127.0.0.1');
  clients.push(socket);
  const state = { text: '', error: null as string | null, closed: false };
  socket.on('data', (chunk: Buffer) => (state.text += chunk.toString('utf8')));
  socket.on('error', (error: NodeJS.ErrnoException) => (state.error = error.code ?? 'error'));
  socket.on('close', () => (state.closed = true));
  await once(socket, 'connect');
  return { socket, state };
}

describe('the fault-injecting proxy', () => {
  it('forwards both ways in pass mode', async () => {
    const { socket, state } = await client();
    socket.write('ping');
    await waitFor(() => state.text === 'ping', { message: 'the echo' });
  });

  it('delays every chunk by the added latency in latency mode, in order', async () => {
    const { socket, state } = await client();
    proxy.latencyMs = 150;
    proxy.setMode('latency');
    const sentAt = Date.now();
    socket.write('a');
    socket.write('b');
    await waitFor(() => state.text === 'ab', { message: 'the echo' });
    // Delayed on the way there and back.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(290);
  });

  it('resets open connections, and new ones once the server has answered', async () => {
    const open = await client();
    proxy.setMode('reset');
    await waitFor(() => open.state.closed, { message: 'the open connection reset' });
    expect(open.state.error).toBe('ECONNRESET');
    const fresh = await client();
    fresh.socket.write('work');
    await waitFor(() => fresh.state.closed, { message: 'the new connection reset' });
    expect(received).toEqual(['work']);
    expect(fresh.state.text).toBe('');
  });

  it('holds bytes in a black hole and lets them through when it heals', async () => {
    const open = await client();
    proxy.setMode('blackhole');
    open.socket.write('held');
    const fresh = await client();
    fresh.socket.write('late');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([]);
    expect(open.state.text + fresh.state.text).toBe('');
    proxy.setMode('pass');
    await waitFor(() => open.state.text === 'held' && fresh.state.text === 'late', {
      message: 'the held bytes',
    });
  });

  it('refuses connections while closed and accepts them again on the same port', async () => {
    const port = proxy.port;
    await proxy.close();
    const refused = connect(port, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
    await proxy.listen();
    expect(proxy.port).toBe(port);
    const { socket, state } = await client();
    socket.write('back');
    await waitFor(() => state.text === 'back', { message: 'the echo' });
  });
});

describe('the soak growth measure', () => {
  const at = (i: number) => i * 10_000;

  it('reads a steady series with noise as no growth, and a leak as growth', () => {
    const flat = [100, 104, 98, 101, 99, 103, 100].map((value, i) => ({ at: at(i), value }));
    expect(Math.abs(growth(flat, 1))).toBeLessThan(0.05);
    const leak = [100, 103, 106, 109, 112, 115, 118].map((value, i) => ({ at: at(i), value }));
    expect(growth(leak, 1)).toBeCloseTo(0.18, 2);
  });

  it('measures growth against the floor when the series starts below it', () => {
    const small = [0, 1, 2, 3].map((value, i) => ({ at: at(i), value }));
    expect(growth(small, 30)).toBeCloseTo(0.1, 5);
  });
});
