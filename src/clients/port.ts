import { createHash, randomBytes, randomUUID } from 'node:crypto';

/**
 * API clients: the apps (a network's own driver app, partner apps, a roaming hub) that may use
 * the public API once at least one client exists. Each has its API keys (kept as SHA-256 hashes;
 * a key is 32 random bytes, so no salt or slow hash is needed), its own webhook secrets, the
 * callback hosts it may use and an optional rate limit. Rotation adds a key or secret and
 * gives the earlier ones an end (`expiresAt`): during that overlap both work.
 *
 * The store port keeps each client as one document; the few writes (operators' changes) are
 * read-modify-write in one transaction (`change`).
 */

export interface ApiKey {
  id: string;
  /** The first characters of the key, to tell keys apart; never enough to use one. */
  prefix: string;
  /** SHA-256 (hex) of the whole key. */
  hash: string;
  createdAt: number;
  /** Past this (ms since epoch) the key no longer authenticates; null: never. */
  expiresAt: number | null;
}

export interface WebhookSecret {
  id: string;
  /** `whsec_…`: kept as is, since signing needs it. */
  secret: string;
  createdAt: number;
  /** Past this the secret no longer signs; null: never. */
  expiresAt: number | null;
}

export interface Client {
  id: string;
  /** Unique; shown in logs and metrics labels. */
  name: string;
  /** Exact host names, or `*.suffix` for any name under `suffix`. */
  callbackHosts: string[];
  /** Requests a second; null: the API's default (API_RATE_LIMIT_PER_SEC, if any). */
  rateLimitPerSec: number | null;
  keys: ApiKey[];
  secrets: WebhookSecret[];
  createdAt: number;
}

export interface ClientStore {
  /** Every client, oldest first. */
  list(): Promise<Client[]>;
  /** Stores a new client; false when its name is taken (nothing changes then). */
  create(client: Client): Promise<boolean>;
  /** Applies `change` to the named client in one transaction; null when there is none. */
  change(name: string, change: (client: Client) => Client): Promise<Client | null>;
  /** false when there was none. */
  remove(name: string): Promise<boolean>;
  close(): Promise<void>;
}

export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const KEY_PREFIX = 'cgk_';
/** Shown characters of a key: its prefix and eight more. */
const SHOWN_KEY_CHARACTERS = KEY_PREFIX.length + 8;
const HOST_PATTERN =
  /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new API key: the key itself (shown once) and what is kept of it. */
export function newApiKey(now: number): { key: string; record: ApiKey } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return {
    key,
    record: {
      id: randomUUID(),
      prefix: key.slice(0, SHOWN_KEY_CHARACTERS),
      hash: hashKey(key),
      createdAt: now,
      expiresAt: null,
    },
  };
}

export function newWebhookSecret(secret: string, now: number): WebhookSecret {
  return { id: randomUUID(), secret, createdAt: now, expiresAt: null };
}

/** `null` when every entry is a host name or `*.suffix`; else the first bad one. */
export function badCallbackHost(hosts: readonly string[]): string | null {
  return hosts.find((host) => !HOST_PATTERN.test(host) || host.length > 253) ?? null;
}

/** Whether a callback URL's host is one the client may use. */
export function allowsCallbackHost(client: Pick<Client, 'callbackHosts'>, hostname: string) {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return client.callbackHosts.some((allowed) =>
    allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) : host === allowed,
  );
}

/** Ends every key (or secret) but the newest at `at`, unless it ends sooner already. */
export function endAllBut<T extends { id: string; expiresAt: number | null }>(
  items: T[],
  keep: string,
  at: number,
): T[] {
  return items.map((item) =>
    item.id === keep || (item.expiresAt !== null && item.expiresAt <= at)
      ? item
      : { ...item, expiresAt: at },
  );
}

/** Drops keys and secrets that ended long enough ago that no one can use them any more. */
export function withoutEnded(client: Client, now: number): Client {
  const live = <T extends { expiresAt: number | null }>(items: T[]) =>
    items.filter((item) => item.expiresAt === null || item.expiresAt > now);
  return { ...client, keys: live(client.keys), secrets: live(client.secrets) };
}
