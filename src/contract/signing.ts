import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed
 * with the base64-decoded part of a `whsec_` secret. With several secrets (during rotation)
 * every signature is sent, space-separated, and a receiver accepts any one it can verify.
 */
export const SECRET_PREFIX = 'whsec_';

/** 32 random bytes: the HMAC-SHA256 block-size-safe key length Standard Webhooks recommends. */
const GENERATED_SECRET_BYTES = 32;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(GENERATED_SECRET_BYTES).toString('base64');
}

export interface Signer {
  sign(id: string, timestampSeconds: number, body: string): string;
}

export function createSigner(secrets: readonly string[]): Signer {
  if (secrets.length === 0) throw new Error('at least one webhook secret is required');
  const keys = secrets.map((s) => Buffer.from(s.slice(SECRET_PREFIX.length), 'base64'));
  return {
    sign(id, timestampSeconds, body) {
      const content = `${id}.${timestampSeconds}.${body}`;
      return keys
        .map((key) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`)
        .join(' ');
    },
  };
}
