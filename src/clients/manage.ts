import { randomUUID } from 'node:crypto';
import { generateSecret } from '../contract/signing.js';
import {
  CLIENT_NAME_PATTERN,
  badCallbackHost,
  endAllBut,
  newApiKey,
  newWebhookSecret,
  withoutEnded,
  type Client,
  type ClientStore,
} from './port.js';

/**
 * What operators do with clients, shared by the admin API and the CLI: create, change, rotate
 * a key or the webhook secret (the earlier ones keep working for `overlapMs`), delete. Keys and
 * secrets are returned once, when made; `clientView` never shows them.
 */

/** How long a rotated-out key or secret keeps working by default: a day to roll out the new one. */
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 3_600_000;
const MAX_RATE_LIMIT = 1_000_000;
const MAX_HOSTS = 100;

export interface ClientInput {
  name?: unknown;
  callback_hosts?: unknown;
  rate_limit_per_sec?: unknown;
}

export type FieldError = { field: string; message: string };

/** Every bad field of a create (`partial` false) or change (`partial` true) request. */
export function clientInputErrors(input: ClientInput, partial: boolean): FieldError[] {
  const errors: FieldError[] = [];
  if (!partial && (typeof input.name !== 'string' || !CLIENT_NAME_PATTERN.test(input.name))) {
    errors.push({
      field: 'name',
      message: 'must be 1 to 64 of a-z 0-9 _ -, starting with a letter or digit',
    });
  }
  const hosts = input.callback_hosts;
  if (!(partial && hosts === undefined)) {
    const list = Array.isArray(hosts) ? (hosts as unknown[]) : null;
    const texts = list?.every((h): h is string => typeof h === 'string') ? list : null;
    if (texts === null || texts.length === 0 || texts.length > MAX_HOSTS) {
      errors.push({
        field: 'callback_hosts',
        message: `must be a list of 1 to ${MAX_HOSTS} host names (or *.suffix)`,
      });
    } else {
      const bad = badCallbackHost(texts.map((h) => h.toLowerCase()));
      if (bad !== null) {
        errors.push({ field: 'callback_hosts', message: 'must be host names or *.suffix' });
      }
    }
  }
  const rate = input.rate_limit_per_sec;
  if (
    rate !== undefined &&
    rate !== null &&
    !(Number.isInteger(rate) && (rate as number) >= 1 && (rate as number) <= MAX_RATE_LIMIT)
  ) {
    errors.push({
      field: 'rate_limit_per_sec',
      message: `must be an integer from 1 to ${MAX_RATE_LIMIT}, or null`,
    });
  }
  return errors;
}

const hostsOf = (input: ClientInput) =>
  (input.callback_hosts as string[]).map((host) => host.toLowerCase());

/** Creates a client with one key and one secret; null when the name is taken. */
export async function createClient(
  store: ClientStore,
  input: ClientInput,
  now = Date.now(),
): Promise<{ client: Client; apiKey: string; webhookSecret: string } | null> {
  const { key, record } = newApiKey(now);
  const webhookSecret = generateSecret();
  const client: Client = {
    id: randomUUID(),
    name: input.name as string,
    callbackHosts: hostsOf(input),
    rateLimitPerSec: (input.rate_limit_per_sec as number | null | undefined) ?? null,
    keys: [record],
    secrets: [newWebhookSecret(webhookSecret, now)],
    createdAt: now,
  };
  return (await store.create(client)) ? { client, apiKey: key, webhookSecret } : null;
}

export function changeClient(store: ClientStore, name: string, input: ClientInput) {
  return store.change(name, (client) => ({
    ...client,
    ...(input.callback_hosts === undefined ? {} : { callbackHosts: hostsOf(input) }),
    ...(input.rate_limit_per_sec === undefined
      ? {}
      : { rateLimitPerSec: input.rate_limit_per_sec as number | null }),
  }));
}

/** A new key; the others keep working for `overlapMs`. Null when there is no such client. */
export async function rotateKey(
  store: ClientStore,
  name: string,
  overlapMs = DEFAULT_ROTATION_OVERLAP_MS,
  now = Date.now(),
): Promise<{ client: Client; apiKey: string } | null> {
  const { key, record } = newApiKey(now);
  const client = await store.change(name, (c) =>
    withoutEnded({ ...c, keys: endAllBut([...c.keys, record], record.id, now + overlapMs) }, now),
  );
  return client === null ? null : { client, apiKey: key };
}

/** A new webhook secret; the others sign too for `overlapMs`. Null when there is no such client. */
export async function rotateSecret(
  store: ClientStore,
  name: string,
  overlapMs = DEFAULT_ROTATION_OVERLAP_MS,
  now = Date.now(),
): Promise<{ client: Client; webhookSecret: string } | null> {
  const webhookSecret = generateSecret();
  const fresh = newWebhookSecret(webhookSecret, now);
  const client = await store.change(name, (c) =>
    withoutEnded(
      { ...c, secrets: endAllBut([...c.secrets, fresh], fresh.id, now + overlapMs) },
      now,
    ),
  );
  return client === null ? null : { client, webhookSecret };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A client as shown to operators: never a key, a key's hash or a secret. */
export function clientView(client: Client) {
  return {
    id: client.id,
    name: client.name,
    callback_hosts: client.callbackHosts,
    rate_limit_per_sec: client.rateLimitPerSec,
    created_at: new Date(client.createdAt).toISOString(),
    api_keys: client.keys.map((k) => ({
      id: k.id,
      prefix: k.prefix,
      created_at: iso(k.createdAt),
      expires_at: iso(k.expiresAt),
    })),
    webhook_secrets: client.secrets.map((s) => ({
      id: s.id,
      created_at: iso(s.createdAt),
      expires_at: iso(s.expiresAt),
    })),
  };
}
