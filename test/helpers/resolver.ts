import { isIPv6, type LookupFunction } from 'node:net';

/** A resolver over a fixed table that answers the way `dns.lookup` does, in both shapes. */
export function fakeResolver(table: Record<string, string[]>): {
  lookup: LookupFunction;
  asked: string[];
} {
  const asked: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    asked.push(hostname);
    const addresses = (table[hostname] ?? []).map((address) => ({
      address,
      family: isIPv6(address) ? 6 : 4,
    }));
    const first = addresses[0];
    process.nextTick(() => {
      if (first === undefined) {
        callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), []);
      } else if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
  return { lookup, asked };
}
