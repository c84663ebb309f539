import type { LookupAddress } from 'node:dns';
import { createDnsLookup } from './resolver.js';
import { isIP, isIPv4, isIPv6, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';

/**
 * Server-side request forgery guard for callbacks (docs/webhooks.md). Two layers:
 * - `checkCallbackUrl` refuses, at POST time, URLs whose host is already known to be
 *   non-public (IP literals, `localhost`, metadata names), so the client hears about it at once.
 * - `createGuardedAgent` checks the address actually connected to, at every connection, so a
 *   host name that resolves to a public address at POST time and to a private one later
 *   (DNS rebinding) is still refused.
 */

/** Stable code of the connect-time refusal; delivery.ts keeps codes starting `CALLBACK_`. */
export const FORBIDDEN_CODE = 'CALLBACK_ADDRESS_FORBIDDEN';

export interface AddressVerdict {
  allowed: boolean;
  /** Why the address is refused: `loopback`, `private`, `ipv4_mapped:private`, … */
  reason?: string;
}

export interface GuardedAgentOptions {
  allowPrivateNetworks: boolean;
  /** Resolver used instead of `dns.lookup`; tests inject one that answers private addresses. */
  lookup?: LookupFunction;
  /** Per-origin cap, undici's own name for it; the smaller of this and `maxPerHost` applies. */
  connections?: number;
  /** Concurrent connections per origin (scheme, host, port); unbounded when neither is set. */
  maxPerHost?: number;
  keepAliveTimeoutMs?: number;
  /** Gives up a connection attempt after this long (undici's default is 10 s); set it to the
   * attempt's timeout, which a slow connect would otherwise outlast. */
  connectTimeoutMs?: number;
}

const NON_PUBLIC_MESSAGE = 'must not point to a loopback, private or otherwise non-public address';

/** Receivers are often serverless endpoints that drop idle sockets early; a short keep-alive
 * reuses connections within a burst without holding many idle sockets. */
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 10_000;

/** Host names of cloud metadata services; their addresses are refused too, this names them
 * before any resolution so a split-horizon resolver cannot hide them. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata']);

const PUBLIC: AddressVerdict = { allowed: true };

const IPV4_BITS = 32;
const IPV6_BITS = 128;
const LOW_32_BITS = 0xffff_ffffn;
/** A 6to4 address `2002:AABB:CCDD::/48` carries the IPv4 address in bits 16 to 47. */
const SIX_TO_FOUR_SHIFT = 80n;

interface Rule {
  base: bigint;
  bits: number;
  reason: string;
}

interface Embedding {
  rule: Rule;
  /** The embedded IPv4 address. */
  extract: (value: bigint) => bigint;
  /** Deprecated forms are refused even when the embedded address is public. */
  alwaysRefused: boolean;
}

/** First match wins, so exact addresses come before the ranges that contain them. */
const IPV4_RULES: Rule[] = rules(IPV4_BITS, [
  ['169.254.169.254/32', 'metadata'], // AWS, GCP, Azure, OCI, DigitalOcean, …
  ['100.100.100.200/32', 'metadata'], // Alibaba Cloud
  ['168.63.129.16/32', 'metadata'], // Azure WireServer: a public address answering only the host
  ['255.255.255.255/32', 'broadcast'],
  ['0.0.0.0/32', 'unspecified'],
  ['0.0.0.0/8', 'reserved'], // "this network"; Linux connects 0.0.0.0 to the local host
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link_local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'], // deprecated 6to4 relay anycast
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

/** Checked before the embedded-IPv4 forms, which would otherwise claim `::` and `::1`. */
const IPV6_SPECIAL: Rule[] = rules(IPV6_BITS, [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
]);

const IPV6_RULES: Rule[] = rules(IPV6_BITS, [
  ['fd00:ec2::254/128', 'metadata'], // AWS instance metadata over IPv6
  ['64:ff9b:1::/48', 'nat64_local'], // local-use NAT64 (RFC 8215): translates to private space
  ['100::/64', 'discard'],
  ['2001::/32', 'teredo'], // tunnels to an obfuscated IPv4 address that cannot be checked
  ['2001:2::/48', 'benchmarking'],
  ['2001::/23', 'reserved'], // IETF protocol assignments (ORCHID, AMT, …), not web servers
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'reserved'], // SRv6 segment identifiers
  ['fc00::/7', 'unique_local'],
  ['fe80::/10', 'link_local'],
  ['fec0::/10', 'site_local'],
  ['ff00::/8', 'multicast'],
]);

/** IPv6 forms that carry an IPv4 address; the IPv4 address decides. Labels prefix the reason. */
const EMBEDDINGS: Embedding[] = [
  embedding('::ffff:0:0/96', 'ipv4_mapped', false, (v) => v & LOW_32_BITS),
  embedding('::/96', 'ipv4_compatible', true, (v) => v & LOW_32_BITS), // deprecated, RFC 4291
  embedding('64:ff9b::/96', 'nat64', false, (v) => v & LOW_32_BITS),
  embedding('2002::/16', '6to4', false, (v) => (v >> SIX_TO_FOUR_SHIFT) & LOW_32_BITS),
];

/** Everything outside global unicast 2000::/3 (and the forms above) is not a web server. */
const IPV6_GLOBAL_UNICAST: Rule = parseRule(IPV6_BITS, '2000::/3', 'global');

/**
 * Whether an IP address may receive callbacks: only globally routable unicast may. Accepts
 * dotted-decimal IPv4 and any IPv6 text form (brackets and zone ids are ignored); anything else
 * is refused as `not_an_ip`, since an unparsed address cannot be proven public.
 */
export function classifyAddress(ip: string): AddressVerdict {
  const text = ip
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '')
    .toLowerCase();
  if (isIPv4(text)) return classifyIPv4(ipv4Value(text));
  if (isIPv6(text)) return classifyIPv6(ipv6Value(text));
  return { allowed: false, reason: 'not_an_ip' };
}

/**
 * POST-time check of a callback URL (an `api/validate.ts` `CallbackUrlCheck` once bound to the
 * options): refuses hosts that are non-public without resolving anything. WHATWG `URL` has
 * already turned `http://2130706433/` or `http://0x7f.1/` into `127.0.0.1`. Other host names
 * pass here and are checked on the address connected to. The message never repeats the URL.
 */
export function checkCallbackUrl(
  url: URL,
  options: { allowPrivateNetworks: boolean; requireHttps?: boolean },
): string | null {
  if (options.requireHttps === true && url.protocol !== 'https:') {
    return 'must be an https URL (CALLBACK_REQUIRE_HTTPS is set)';
  }
  if (options.allowPrivateNetworks) return null;
  return hostVerdict(url.hostname).allowed ? null : NON_PUBLIC_MESSAGE;
}

/**
 * An undici `Agent` for callbacks that refuses, with an error whose `code` is `FORBIDDEN_CODE`,
 * to connect to a non-public address: host names are checked by name, then every address they
 * resolve to is checked inside the socket's own lookup (no second resolution that a rebinding
 * DNS server could answer differently), IP literals are checked before connecting, and the
 * socket's remote address is checked once more after connecting as a last line of defence.
 */
export function createGuardedAgent(options: GuardedAgentOptions): Agent {
  const caps = [options.maxPerHost, options.connections].filter((n) => n !== undefined);
  const lookup = options.allowPrivateNetworks ? options.lookup : guardLookup(options.lookup);
  const connector = buildConnector({
    ...(lookup === undefined ? {} : { lookup }),
    ...(options.connectTimeoutMs === undefined ? {} : { timeout: options.connectTimeoutMs }),
  });
  return new Agent({
    // undici's `connections` is per origin: each origin gets its own pool.
    connections: caps.length > 0 ? Math.min(...caps) : null,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    connect: options.allowPrivateNetworks ? connector : guardConnector(connector),
  });
}

/**
 * Wraps a resolver (default `dns.lookup`) so it fails with `FORBIDDEN_CODE` when any address the
 * name resolves to is non-public. Refusing the whole answer, rather than keeping its public
 * part, is deliberate: a name that mixes public and private addresses is a misconfiguration or
 * a rebinding attempt, and refusing makes it a stable, visible attempt error instead of one that
 * depends on which address the socket happens to try first. Answers in both shapes `net` asks
 * for: an address list when `options.all` is set, one address and its family otherwise.
 */
export function guardLookup(resolve: LookupFunction = defaultLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, result, family) => {
      if (error) return callback(error, []);
      const addresses: LookupAddress[] =
        typeof result === 'string' ? [{ address: result, family: family ?? isIP(result) }] : result;
      const first = addresses[0];
      if (first === undefined) return callback(notFound(hostname), []);
      for (const { address } of addresses) {
        const verdict = classifyAddress(address);
        if (!verdict.allowed) return callback(forbidden(verdict, 'lookup'), []);
      }
      if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/** Callbacks resolve names off libuv's thread pool (see `resolver.ts`). */
const defaultLookup: LookupFunction = createDnsLookup().lookup;

function guardConnector(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) => {
    // No lookup happens for an IP literal, so the literal itself is checked here.
    const verdict = hostVerdict(options.hostname);
    if (!verdict.allowed) {
      // Asynchronous, as a real connection failure would be: undici does not expect re-entry.
      process.nextTick(() => callback(forbidden(verdict), null));
      return;
    }
    connect(options, (error, socket) => {
      if (error !== null) return callback(error, null);
      const remote = classifyAddress(socket.remoteAddress ?? '');
      if (remote.allowed) return callback(null, socket);
      socket.destroy();
      callback(forbidden(remote), null);
    });
  };
}

/** A host's verdict without resolving it: literals are classified, some names are known. */
function hostVerdict(hostname: string): AddressVerdict {
  const host = hostname.toLowerCase().replace(/\.+$/, '');
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) return classifyAddress(host);
  // RFC 6761: `localhost` and every name under it is the local host, whatever DNS says.
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return { allowed: false, reason: 'loopback' };
  }
  if (METADATA_HOSTS.has(host)) return { allowed: false, reason: 'metadata' };
  return PUBLIC;
}

function classifyIPv4(value: bigint): AddressVerdict {
  const rule = IPV4_RULES.find((r) => matches(r, value, IPV4_BITS));
  return rule === undefined ? PUBLIC : { allowed: false, reason: rule.reason };
}

function classifyIPv6(value: bigint): AddressVerdict {
  const special = IPV6_SPECIAL.find((r) => matches(r, value, IPV6_BITS));
  if (special !== undefined) return { allowed: false, reason: special.reason };
  for (const { rule, extract, alwaysRefused } of EMBEDDINGS) {
    if (!matches(rule, value, IPV6_BITS)) continue;
    const inner = classifyIPv4(extract(value));
    if (!inner.allowed) return { allowed: false, reason: `${rule.reason}:${inner.reason}` };
    return alwaysRefused ? { allowed: false, reason: rule.reason } : PUBLIC;
  }
  const rule = IPV6_RULES.find((r) => matches(r, value, IPV6_BITS));
  if (rule !== undefined) return { allowed: false, reason: rule.reason };
  return matches(IPV6_GLOBAL_UNICAST, value, IPV6_BITS)
    ? PUBLIC
    : { allowed: false, reason: 'reserved' };
}

function matches(rule: Rule, value: bigint, width: number): boolean {
  const shift = BigInt(width - rule.bits);
  return value >> shift === rule.base >> shift;
}

function rules(width: number, table: [cidr: string, reason: string][]): Rule[] {
  return table.map(([cidr, reason]) => parseRule(width, cidr, reason));
}

/** Parses rule text once at load, so a typo in a table fails at start, not silently. */
function parseRule(width: number, cidr: string, reason: string): Rule {
  const [address = '', bits = ''] = cidr.split('/');
  const valid = width === IPV4_BITS ? isIPv4(address) : isIPv6(address);
  const prefix = Number(bits);
  if (!valid || bits === '' || !Number.isInteger(prefix) || prefix < 0 || prefix > width) {
    throw new Error(`invalid SSRF rule ${cidr}`);
  }
  const base = width === IPV4_BITS ? ipv4Value(address) : ipv6Value(address);
  return { base, bits: prefix, reason };
}

function embedding(
  cidr: string,
  label: string,
  alwaysRefused: boolean,
  extract: (value: bigint) => bigint,
): Embedding {
  return { rule: parseRule(IPV6_BITS, cidr, label), extract, alwaysRefused };
}

/** Dotted-decimal IPv4 (already validated by `isIPv4`) as a 32-bit number. */
function ipv4Value(text: string): bigint {
  return text.split('.').reduce((value, part) => (value << 8n) | BigInt(part), 0n);
}

/** Any IPv6 text form (already validated by `isIPv6`) as a 128-bit number. */
function ipv6Value(text: string): bigint {
  let source = text;
  if (source.includes('.')) {
    // A trailing dotted quad (`::ffff:10.0.0.1`) is the last two 16-bit groups.
    const colon = source.lastIndexOf(':');
    const v4 = ipv4Value(source.slice(colon + 1));
    source = `${source.slice(0, colon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [left = '', right] = source.split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const gap = right === undefined ? 0 : IPV6_BITS / 16 - head.length - tail.length;
  const groups = [...head, ...Array<string>(gap).fill('0'), ...tail];
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/**
 * `phase: 'lookup'` marks a name that resolved to a non-public address: its attempt is recorded
 * as `CALLBACK_UNREACHABLE`, as a name that does not resolve is, so that the request's history
 * is no oracle for which internal names exist (the log keeps the reason).
 */
function forbidden(verdict: AddressVerdict, phase: 'lookup' | 'connect' = 'connect'): Error {
  // The reason, not the address: attempt errors may be shown to clients.
  const message = `callback address refused: ${verdict.reason ?? 'not public'}`;
  return Object.assign(new Error(message), {
    code: FORBIDDEN_CODE,
    reason: verdict.reason,
    phase,
  });
}

function notFound(hostname: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: 'ENOTFOUND',
    hostname,
  });
}
