import { Resolver } from 'node:dns';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';

/** One DNS try gives up after this; a slow server fails an attempt, it does not hold it. */
const DNS_TRY_TIMEOUT_MS = 2_000;
const DNS_TRIES = 2;

/**
 * A `dns.lookup`-shaped resolver that asks DNS servers directly (c-ares, as `dns.resolve4` and
 * `dns.resolve6` do), on the event loop, not on libuv's four-thread pool as `dns.lookup` does:
 * a slow or silent DNS server then delays only the callbacks to the names it serves, never the
 * file system, crypto or the other callbacks' lookups. It reads `/etc/resolv.conf` but not
 * `/etc/hosts`, which holds no public receivers.
 *
 * `servers`: where to ask (tests); the system's resolvers when absent.
 */
export function createDnsLookup(options: { servers?: string[]; timeoutMs?: number } = {}) {
  const resolver = new Resolver({
    timeout: options.timeoutMs ?? DNS_TRY_TIMEOUT_MS,
    tries: DNS_TRIES,
  });
  if (options.servers !== undefined) resolver.setServers(options.servers);
  const ask = (hostname: string, family: 4 | 6) =>
    new Promise<LookupAddress[]>((resolve, reject) => {
      const done = (error: NodeJS.ErrnoException | null, addresses: string[]) =>
        error === null ? resolve(addresses.map((address) => ({ address, family }))) : reject(error);
      if (family === 4) resolver.resolve4(hostname, done);
      else resolver.resolve6(hostname, done);
    });
  const lookup: LookupFunction = (hostname, options, callback) => {
    const families: (4 | 6)[] =
      options.family === 4 || options.family === 6 ? [options.family] : [4, 6];
    void Promise.allSettled(families.map((family) => ask(hostname, family))).then((results) => {
      const addresses = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      const first = addresses[0];
      if (first === undefined) {
        const failure = results.find((r) => r.status === 'rejected');
        const error =
          failure?.status === 'rejected' && failure.reason instanceof Error
            ? failure.reason
            : Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
        callback(error, []);
      } else if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
  return { lookup, cancel: () => resolver.cancel() };
}
