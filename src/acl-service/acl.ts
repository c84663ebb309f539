import { ACL_REASONS, type AuthorizeResponseBody } from '../contract/authorization.js';

/**
 * The reference authorization service's access control list: the entry model, the store port
 * every ACL store implements (memory in `acl-memory.ts`, SQLite in `acl-sqlite.ts`), and the
 * rule that turns an entry into an answer. The file format is in `acl-file.ts`. Only keyed
 * hashes of tokens enter a store: a heap dump or a copy of the database does not reveal them.
 */

export type AclEntryStatus = 'active' | 'blocked' | 'expired';

/** What an ACL entry says about a token. Raw tokens are gone; station ids are lower-case. */
export interface AclEntry {
  readonly tokenHash: string;
  readonly status: AclEntryStatus;
  /** Epoch milliseconds; the token is expired from this instant on. */
  readonly expiresAt?: number;
  /** Absent: valid at every station. */
  readonly stations?: ReadonlySet<string>;
  readonly note?: string;
}

/** A stored entry. */
export interface AclRecord extends AclEntry {
  /** A lower-case UUID assigned by the store: v7, so ids sort by creation time (to the
   * millisecond). It is not derived from the token, so it can be shown, logged and put in URLs. */
  readonly id: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds; the last change of status, expiry, stations or note. */
  readonly updatedAt: number;
}

/** A change to an entry: an absent field is kept, `null` removes an optional one. The token is
 * not part of it: an entry for another token is another entry (delete, then create). */
export interface AclPatch {
  readonly status?: AclEntryStatus;
  readonly expiresAt?: number | null;
  readonly stations?: ReadonlySet<string> | null;
  readonly note?: string | null;
}

export type AclCreateResult =
  | { readonly created: true; readonly entry: AclRecord }
  | { readonly created: false; readonly existingId: string };

export interface AclPage {
  readonly items: AclRecord[];
  /** The `after` of the next page; absent on the last page. */
  readonly next?: string;
}

export type AclImportMode = 'upsert' | 'replace';

export interface AclImportResult {
  /** Entries whose token was not in the store. */
  readonly created: number;
  /** Entries whose token was in the store with a different status, expiry, stations or note. */
  readonly updated: number;
  /** Entries whose token was in the store exactly as imported (their `updatedAt` is kept). */
  readonly unchanged: number;
  /** Stored entries whose token is not in the import (`replace` only; always 0 for `upsert`). */
  readonly deleted: number;
}

/**
 * Where the service keeps its ACL. What every implementation guarantees:
 *
 * - **No stale answers.** Once a write has resolved, every `find` sees it, in every process
 *   sharing the store: the admin API promises that a change applies to the next authorization,
 *   so a store either does not cache or invalidates its cache on every write.
 * - **One entry per token.** `tokenHash` is unique, enforced atomically by the store (a
 *   unique key), not by a read before the write, so concurrent creates cannot both succeed.
 * - **Ids** are lower-case UUIDs the store assigns; they never change, also not on import.
 *   Methods taking an id are only called with a lower-case UUID; an unknown one matches nothing.
 * - **Failures reject.** A missing entry is a result (`undefined`, `false`, a conflict), never a
 *   rejection; a rejection means the store itself failed (the service then answers 500).
 * - Returned records are snapshots: a later write does not change a record returned before.
 */
export interface AclStore {
  /** The entry whose token has this keyed hash, or `undefined` when the ACL does not know it. */
  find(tokenHash: string): Promise<AclRecord | undefined>;
  get(id: string): Promise<AclRecord | undefined>;
  /**
   * Up to `limit` entries in ascending `id` order (compared as strings, i.e. creation order),
   * those after the id `after` when given. `after` need not exist any more, so paging survives
   * deletes; an entry created while paging appears on a later page or not at all.
   */
  list(page: { limit: number; after?: string }): Promise<AclPage>;
  /** Adds an entry, or reports the id of the entry that has this token already. */
  create(entry: AclEntry): Promise<AclCreateResult>;
  /** Applies `patch` and sets `updatedAt`; `undefined` when no entry has this id. */
  update(id: string, patch: AclPatch): Promise<AclRecord | undefined>;
  /** `false` when no entry has this id. */
  delete(id: string): Promise<boolean>;
  /**
   * Imports entries in one transaction: all of them or, when it fails, none. An entry whose
   * token is stored already replaces its status, expiry, stations and note (an absent optional
   * field removes the stored one) and keeps its id; the others are created. `replace` also
   * deletes every entry whose token is not imported. Token hashes must be distinct; the file
   * validation guarantees it.
   */
  importEntries(
    entries: readonly AclEntry[],
    options: { mode: AclImportMode },
  ): Promise<AclImportResult>;
  count(): Promise<number>;
  /** Resolves when `find` can be answered; `/health/ready` reports a rejection as not ready. */
  ping(): Promise<void>;
  /** Releases the store; idempotent. Other calls reject afterwards. */
  close(): Promise<void>;
}

/**
 * Imports the ACL file's entries into an empty store and returns how many it imported (0 when
 * the store has entries already). Seeding only an empty store is what lets changes made through
 * the admin API survive restarts; a changed file is loaded with `POST /admin/v1/acl/import`.
 * Two processes seeding a fresh store at once both import the same entries with `upsert`, which
 * leaves the same result as one import.
 */
export async function seedAcl(store: AclStore, entries: readonly AclEntry[]): Promise<number> {
  if ((await store.count()) > 0) return 0;
  await store.importEntries(entries, { mode: 'upsert' });
  return entries.length;
}

/** The entry after `patch`, stamped `now`; shared by the stores so they merge alike. */
export function applyPatch(record: AclRecord, patch: AclPatch, now: number): AclRecord {
  const pick = <T>(given: T | null | undefined, kept: T | undefined) =>
    given === null ? undefined : given === undefined ? kept : given;
  const expiresAt = pick(patch.expiresAt, record.expiresAt);
  const stations = pick(patch.stations, record.stations);
  const note = pick(patch.note, record.note);
  return {
    id: record.id,
    tokenHash: record.tokenHash,
    status: patch.status ?? record.status,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(stations === undefined ? {} : { stations }),
    ...(note === undefined ? {} : { note }),
    createdAt: record.createdAt,
    updatedAt: now,
  };
}

/** Station lists are sets: stores keep them sorted, so equal lists compare equal. */
export function sortedStations(stations: ReadonlySet<string>): string[] {
  return [...stations].sort();
}

/**
 * The ACL's verdict for a token at a station. The order matters and mirrors OCPP: a blocked
 * token is reported as blocked even when it has also expired or is at the wrong station,
 * because "blocked" is the reason a driver most needs to hear.
 */
export function authorize(
  entry: AclEntry | undefined,
  stationId: string,
  now: number,
): AuthorizeResponseBody {
  if (entry === undefined) return { status: 'invalid', reason: ACL_REASONS.unknownToken };
  if (entry.status === 'blocked') return { status: 'not_allowed', reason: ACL_REASONS.blocked };
  if (entry.status === 'expired' || (entry.expiresAt !== undefined && entry.expiresAt <= now)) {
    return { status: 'not_allowed', reason: ACL_REASONS.expired };
  }
  if (entry.stations !== undefined && !entry.stations.has(stationId.toLowerCase())) {
    return { status: 'not_allowed', reason: ACL_REASONS.notAtThisStation };
  }
  return { status: 'allowed', reason: ACL_REASONS.allowed };
}
