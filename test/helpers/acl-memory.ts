import { uuidv7 } from '../../src/lib/ids.js';
import {
  applyPatch,
  sortedStations,
  type AclEntry,
  type AclImportResult,
  type AclRecord,
  type AclStore,
} from '../../src/acl-service/acl.js';

/**
 * An ACL store in process memory, for tests and experiments: it keeps the whole `AclStore`
 * contract but forgets everything when the process ends. Records are frozen and station sets
 * copied, so a caller cannot change a stored entry behind the store's back.
 */
export function createMemoryAclStore(
  entries: readonly AclEntry[] = [],
  options: { now?: () => number } = {},
): AclStore {
  const now = options.now ?? Date.now;
  const byId = new Map<string, AclRecord>();
  const idByHash = new Map<string, string>();
  let closed = false;

  /** Every call goes through here, so a closed store rejects like a closed database. */
  const run = <T>(work: () => T): Promise<T> =>
    new Promise<T>((resolve) => {
      if (closed) throw new Error('The memory ACL store is closed');
      resolve(work());
    });

  const put = (record: AclRecord) => {
    byId.set(record.id, freeze(record));
    idByHash.set(record.tokenHash, record.id);
    return record;
  };
  const remove = (id: string) => {
    const record = byId.get(id);
    if (record === undefined) return false;
    byId.delete(id);
    idByHash.delete(record.tokenHash);
    return true;
  };
  const insert = (entry: AclEntry, at: number) =>
    put({ ...content(entry), id: uuidv7(at), createdAt: at, updatedAt: at });

  const importEntries = (incoming: readonly AclEntry[], replace: boolean): AclImportResult => {
    const at = now();
    const result = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
    for (const entry of incoming) {
      const stored = byId.get(idByHash.get(entry.tokenHash) ?? '');
      if (stored === undefined) {
        insert(entry, at);
        result.created += 1;
      } else if (sameContent(stored, entry)) {
        result.unchanged += 1;
      } else {
        put({ ...content(entry), id: stored.id, createdAt: stored.createdAt, updatedAt: at });
        result.updated += 1;
      }
    }
    if (replace) {
      const keep = new Set(incoming.map((entry) => entry.tokenHash));
      for (const record of [...byId.values()].filter((r) => !keep.has(r.tokenHash))) {
        remove(record.id);
        result.deleted += 1;
      }
    }
    return result;
  };

  for (const entry of entries) insert(entry, now());

  return {
    find: (tokenHash) => run(() => byId.get(idByHash.get(tokenHash) ?? '')),
    get: (id) => run(() => byId.get(id)),
    list: ({ limit, after }) =>
      run(() => {
        const ids = [...byId.keys()].sort().filter((id) => after === undefined || id > after);
        const items = ids.slice(0, limit).flatMap((id) => byId.get(id) ?? []);
        const last = items.at(-1);
        return ids.length > limit && last !== undefined ? { items, next: last.id } : { items };
      }),
    create: (entry) =>
      run(() => {
        const existingId = idByHash.get(entry.tokenHash);
        if (existingId !== undefined) return { created: false, existingId } as const;
        return { created: true, entry: insert(entry, now()) } as const;
      }),
    update: (id, patch) =>
      run(() => {
        const stored = byId.get(id);
        return stored === undefined ? undefined : put(applyPatch(stored, patch, now()));
      }),
    delete: (id) => run(() => remove(id)),
    importEntries: (incoming, { mode }) => run(() => importEntries(incoming, mode === 'replace')),
    count: () => run(() => byId.size),
    ping: () => run(() => undefined),
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
}

/** The fields an entry sets, without the optional ones it leaves out. */
function content(entry: AclEntry): AclEntry {
  return {
    tokenHash: entry.tokenHash,
    status: entry.status,
    ...(entry.expiresAt === undefined ? {} : { expiresAt: entry.expiresAt }),
    ...(entry.stations === undefined ? {} : { stations: new Set(entry.stations) }),
    ...(entry.note === undefined ? {} : { note: entry.note }),
  };
}

function freeze(record: AclRecord): AclRecord {
  return Object.freeze({ ...content(record), ...ids(record) });
}

const ids = ({ id, createdAt, updatedAt }: AclRecord) => ({ id, createdAt, updatedAt });

function sameContent(a: AclEntry, b: AclEntry): boolean {
  const stations = (entry: AclEntry) =>
    entry.stations === undefined ? undefined : sortedStations(entry.stations).join(',');
  return (
    a.status === b.status &&
    a.expiresAt === b.expiresAt &&
    stations(a) === stations(b) &&
    a.note === b.note
  );
}
