import { createServer, type Server } from 'node:http';
import {
  getDefaultAutoSelectFamily,
  setDefaultAutoSelectFamily,
  type AddressInfo,
  type LookupFunction,
} from 'node:net';
import { request, type Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeResolver } from './helpers/resolver.js';
import {
  FORBIDDEN_CODE,
  checkCallbackUrl,
  classifyAddress,
  createGuardedAgent,
  guardLookup,
} from '../src/callbacks/ssrf.js';
import { waitFor } from './helpers/wait.js';

const REFUSED: [address: string, reason: string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.1.1', 'link_local'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['169.254.169.254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['168.63.129.16', 'metadata'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['[::1]', 'loopback'],
  ['::ffff:10.0.0.1', 'ipv4_mapped:private'],
  ['::ffff:a00:1', 'ipv4_mapped:private'],
  ['::ffff:7f00:1', 'ipv4_mapped:loopback'],
  ['::ffff:169.254.169.254', 'ipv4_mapped:metadata'],
  ['0:0:0:0:0:ffff:c0a8:0101', 'ipv4_mapped:private'],
  ['::127.0.0.1', 'ipv4_compatible:loopback'],
  ['::8.8.8.8', 'ipv4_compatible'],
  ['64:ff9b::10.0.0.1', 'nat64:private'],
  ['64:ff9b::7f00:1', 'nat64:loopback'],
  ['64:ff9b:1::1', 'nat64_local'],
  ['64:ff9b:1::8.8.8.8', 'nat64_local'],
  ['2002:c0a8:101::1', '6to4:private'],
  ['2002:7f00:1::', '6to4:loopback'],
  ['2001::1', 'teredo'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ['2001:2::1', 'benchmarking'],
  ['2001:10::1', 'reserved'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation'],
  ['100::1', 'discard'],
  ['fc00::1', 'unique_local'],
  ['fd12:3456:789a::1', 'unique_local'],
  ['fd00:ec2::254', 'metadata'],
  ['fe80::1', 'link_local'],
  ['fe80::1%eth0', 'link_local'],
  ['febf::1', 'link_local'],
  ['fec0::1', 'site_local'],
  ['ff02::1', 'multicast'],
  ['ff0e::101', 'multicast'],
  ['::2', 'ipv4_compatible:reserved'],
  ['4000::1', 'reserved'],
  ['5f00::1', 'reserved'],
  ['localhost', 'not_an_ip'],
  ['127.1', 'not_an_ip'],
  ['', 'not_an_ip'],
];

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '172.15.255.255',
  '172.32.0.1',
  '100.63.255.255',
  '100.128.0.1',
  '192.0.1.1',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
];

describe('classifyAddress', () => {
  it.each(REFUSED)('refuses %s as %s', (address, reason) => {
    expect(classifyAddress(address)).toEqual({ allowed: false, reason });
  });

  it.each(ALLOWED)('allows the globally routable unicast address %s', (address) => {
    expect(classifyAddress(address)).toEqual({ allowed: true });
  });
});

const REFUSED_URLS = [
  'http://127.0.0.1/',
  'http://2130706433/',
  'http://0x7f.1/',
  'http://0177.0.0.1/',
  'http://127.1:8080/hook',
  'http://0/',
  'http://0x0a.0x00.0x00.0x01/',
  'http://10.0.0.1./',
  'http://169.254.169.254/latest/meta-data/',
  'http://100.100.100.200/',
  'http://[::1]/',
  'http://[0:0:0:0:0:0:0:1]:8080/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:a00:1]/',
  'http://[64:ff9b::10.0.0.1]/',
  'http://[2002:c0a8:101::1]/',
  'https://[fd00:ec2::254]/',
  'https://[fe80::1]/',
  'http://localhost:8080/hook',
  'http://LOCALHOST./',
  'http://api.localhost/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://metadata/',
];

const ACCEPTED_URLS = [
  'https://example.com/hooks/charging',
  'http://8.8.8.8/',
  'https://[2606:4700:4700::1111]/',
  'http://localhost.example.com/',
  'http://rebind.test/',
];

describe('checkCallbackUrl', () => {
  it.each(REFUSED_URLS)('refuses %s without naming the URL', (text) => {
    const message = checkCallbackUrl(new URL(text), { allowPrivateNetworks: false });
    expect(message).toBe('must not point to a loopback, private or otherwise non-public address');
  });

  it.each(ACCEPTED_URLS)('accepts %s, leaving host names to the connect-time check', (text) => {
    expect(checkCallbackUrl(new URL(text), { allowPrivateNetworks: false })).toBeNull();
  });

  it('accepts every URL when private networks are allowed', () => {
    for (const text of REFUSED_URLS) {
      expect(checkCallbackUrl(new URL(text), { allowPrivateNetworks: true })).toBeNull();
    }
  });
});

function lookupOnce(
  lookup: LookupFunction,
  hostname: string,
  all: boolean,
): Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }> {
  return new Promise((resolve) => {
    lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family }));
  });
}

describe('guardLookup', () => {
  const { lookup } = fakeResolver({
    'public.test': ['8.8.8.8', '2606:4700:4700::1111'],
    'mixed.test': ['8.8.8.8', '10.0.0.1'],
  });
  const guarded = guardLookup(lookup);

  it('passes public answers through as a list when the socket asks for all addresses', async () => {
    expect(await lookupOnce(guarded, 'public.test', true)).toMatchObject({
      error: null,
      address: [
        { address: '8.8.8.8', family: 4 },
        { address: '2606:4700:4700::1111', family: 6 },
      ],
    });
  });

  it('answers one address and its family when the socket asks for one', async () => {
    expect(await lookupOnce(guarded, 'public.test', false)).toMatchObject({
      error: null,
      address: '8.8.8.8',
      family: 4,
    });
  });

  it('refuses a name whose answer mixes a public and a private address', async () => {
    const { error } = await lookupOnce(guarded, 'mixed.test', true);
    expect(error).toMatchObject({ code: FORBIDDEN_CODE, reason: 'private' });
  });

  it('refuses a resolver that ignores the all option and answers one private address', async () => {
    const single: LookupFunction = (_host, _options, callback) =>
      process.nextTick(() => callback(null, '127.0.0.1', 4));
    const { error } = await lookupOnce(guardLookup(single), 'rebind.test', true);
    expect(error).toMatchObject({ code: FORBIDDEN_CODE, reason: 'loopback' });
  });

  it('keeps the resolver error when the name does not resolve', async () => {
    const { error } = await lookupOnce(guarded, 'missing.test', true);
    expect(error).toMatchObject({ code: 'ENOTFOUND' });
  });
});

interface Receiver {
  port: number;
  requests: number;
  connections: number;
  inFlight: number;
  maxInFlight: number;
  /** Answers every request held so far and every later one at once. */
  release(): void;
  close(): Promise<void>;
}

/** A real server on 127.0.0.1 that counts TCP connections as well as requests. */
async function startReceiver(options: { hold?: boolean } = {}): Promise<Receiver> {
  let released = !options.hold;
  const held: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    state.inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const answer = () => {
      state.inFlight -= 1;
      res.writeHead(204).end();
    };
    req.resume();
    req.on('end', () => (released ? answer() : held.push(answer)));
  });
  server.on('connection', () => (state.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const state: Receiver = {
    port: (server.address() as AddressInfo).port,
    requests: 0,
    connections: 0,
    inFlight: 0,
    maxInFlight: 0,
    release: () => {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return state;
}

async function postThrough(agent: Agent, url: string): Promise<number> {
  const response = await request(url, { method: 'POST', body: '{}', dispatcher: agent });
  await response.body.dump();
  return response.statusCode;
}

describe('createGuardedAgent', () => {
  let receiver: Receiver | undefined;
  let agent: Agent | undefined;

  afterEach(async () => {
    // destroy, not close: a failed test may leave held requests that close would wait for.
    await agent?.destroy();
    await receiver?.close();
    agent = undefined;
    receiver = undefined;
  });

  it('refuses a host name that rebinds to loopback, and the server sees nothing', async () => {
    receiver = await startReceiver();
    const resolver = fakeResolver({ 'rebind.test': ['127.0.0.1'] });
    agent = createGuardedAgent({ allowPrivateNetworks: false, lookup: resolver.lookup });
    const url = `http://rebind.test:${receiver.port}/hook`;
    await expect(postThrough(agent, url)).rejects.toMatchObject({ code: FORBIDDEN_CODE });
    expect(resolver.asked).toEqual(['rebind.test']);
    expect(receiver.connections).toBe(0);
    expect(receiver.requests).toBe(0);
  });

  it('refuses a host name whose answer hides loopback behind a public address', async () => {
    receiver = await startReceiver();
    const resolver = fakeResolver({ 'rebind.test': ['8.8.8.8', '127.0.0.1'] });
    agent = createGuardedAgent({ allowPrivateNetworks: false, lookup: resolver.lookup });
    const url = `http://rebind.test:${receiver.port}/hook`;
    await expect(postThrough(agent, url)).rejects.toMatchObject({ code: FORBIDDEN_CODE });
    expect(receiver.connections).toBe(0);
  });

  it('refuses the rebound name when the socket asks for a single address', async () => {
    receiver = await startReceiver();
    const resolver = fakeResolver({ 'rebind.test': ['127.0.0.1'] });
    agent = createGuardedAgent({ allowPrivateNetworks: false, lookup: resolver.lookup });
    const previous = getDefaultAutoSelectFamily();
    setDefaultAutoSelectFamily(false);
    try {
      const url = `http://rebind.test:${receiver.port}/hook`;
      await expect(postThrough(agent, url)).rejects.toMatchObject({ code: FORBIDDEN_CODE });
    } finally {
      setDefaultAutoSelectFamily(previous);
    }
    expect(receiver.connections).toBe(0);
  });

  it('reaches the server through the same resolver when private networks are allowed', async () => {
    receiver = await startReceiver();
    const resolver = fakeResolver({ 'rebind.test': ['127.0.0.1'] });
    agent = createGuardedAgent({ allowPrivateNetworks: true, lookup: resolver.lookup });
    expect(await postThrough(agent, `http://rebind.test:${receiver.port}/hook`)).toBe(204);
    expect(receiver.requests).toBe(1);
  });

  it.each(['127.0.0.1', '[::ffff:127.0.0.1]', 'localhost'])(
    'refuses http://%s:PORT/ before connecting, without asking the resolver',
    async (host) => {
      receiver = await startReceiver();
      const resolver = fakeResolver({ localhost: ['127.0.0.1'] });
      agent = createGuardedAgent({ allowPrivateNetworks: false, lookup: resolver.lookup });
      const url = `http://${host}:${receiver.port}/hook`;
      await expect(postThrough(agent, url)).rejects.toMatchObject({ code: FORBIDDEN_CODE });
      expect(resolver.asked).toEqual([]);
      expect(receiver.connections).toBe(0);
    },
  );

  it('reaches a literal loopback address when private networks are allowed', async () => {
    receiver = await startReceiver();
    agent = createGuardedAgent({ allowPrivateNetworks: true });
    expect(await postThrough(agent, `http://127.0.0.1:${receiver.port}/hook`)).toBe(204);
  });

  it('opens at most maxPerHost connections to one origin, queueing the rest', async () => {
    receiver = await startReceiver({ hold: true });
    const guarded = createGuardedAgent({ allowPrivateNetworks: true, maxPerHost: 1 });
    agent = guarded;
    const origin = `http://127.0.0.1:${receiver.port}`;
    const both = Promise.all([postThrough(guarded, origin), postThrough(guarded, origin)]);
    const held = receiver;
    // Without the bound both reach the server at once; either way the wait ends promptly.
    const queued = () => held.requests === 1 && guarded.stats[origin]?.size === 2;
    await waitFor(() => held.requests === 2 || queued(), {
      message: 'one request held at the server and one queued in the agent',
    });
    held.release();
    expect(await both).toEqual([204, 204]);
    expect(held.maxInFlight).toBe(1);
    expect(held.connections).toBe(1);
  });
});
