import { hashKey, type Client, type ClientStore } from './port.js';

/** How soon every process sees a change made by another (a new client, a rotated key). */
export const CLIENT_REFRESH_MS = 2_000;

/**
 * What a process knows of the clients: read from the store once at start and then every
 * couple of seconds, so that authenticating a request or signing a callback never waits on
 * the store. A failed read keeps the last clients (and is reported to `onError`).
 */
export interface ClientRegistry {
  /** Resolves once the clients have been read (or the first read failed). */
  ready(): Promise<void>;
  /** Any client exists: the public API then requires a key. */
  readonly active: boolean;
  /** The client whose live key this is; null otherwise. */
  authenticate(key: string): Client | null;
  byId(id: string): Client | undefined;
  /** The secrets that sign the client's callbacks now, newest first; undefined: no such client. */
  secretsOf(id: string): string[] | undefined;
  /** Reads the store now (after a change made by this process). */
  refresh(): Promise<void>;
  close(): void;
}

export function createClientRegistry(
  store: ClientStore,
  options: { refreshMs?: number; now?: () => number; onError?: (error: unknown) => void } = {},
): ClientRegistry {
  const now = options.now ?? Date.now;
  let clients: Client[] = [];
  let byKeyHash = new Map<string, { client: Client; expiresAt: number | null }>();
  let byId = new Map<string, Client>();
  const load = async () => {
    try {
      clients = await store.list();
      byKeyHash = new Map(
        clients.flatMap((client) =>
          client.keys.map((key) => [key.hash, { client, expiresAt: key.expiresAt }] as const),
        ),
      );
      byId = new Map(clients.map((client) => [client.id, client]));
    } catch (error) {
      options.onError?.(error);
    }
  };
  const first = load();
  const timer = setInterval(() => void load(), options.refreshMs ?? CLIENT_REFRESH_MS);
  timer.unref();
  const live = (expiresAt: number | null) => expiresAt === null || expiresAt > now();
  return {
    ready: () => first,
    get active() {
      return clients.length > 0;
    },
    authenticate(key) {
      const found = byKeyHash.get(hashKey(key));
      return found !== undefined && live(found.expiresAt) ? found.client : null;
    },
    byId: (id) => byId.get(id),
    secretsOf(id) {
      const client = byId.get(id);
      if (client === undefined) return undefined;
      return client.secrets
        .filter((secret) => live(secret.expiresAt))
        .sort((a, b) => b.createdAt - a.createdAt)
        .map((secret) => secret.secret);
    },
    refresh: load,
    close: () => clearInterval(timer),
  };
}
