import { createHmac } from 'node:crypto';

/**
 * Driver tokens are personal data. Wherever Chargegate needs to recognise a token without
 * keeping it (decision store, ACL, logs), it uses a keyed hash: HMAC-SHA256 under
 * `TOKEN_HASH_KEY`. Without the key, a leaked hash cannot be matched against guessed tokens.
 */
export interface TokenHasher {
  /** Full keyed hash, hex: stored and compared. */
  hash(token: string): string;
}

/** Log fingerprints are this many hex characters: 48 bits, unique enough to correlate. */
const FINGERPRINT_LENGTH = 12;

/** The fingerprint of an already computed hash (a stored one): no second HMAC. Logs, the
 * session view and the ACL admin API all show this same prefix, so they can be matched up. */
export function fingerprintOf(tokenHash: string): string {
  return tokenHash.slice(0, FINGERPRINT_LENGTH);
}

export function createTokenHasher(key: string): TokenHasher {
  const hash = (token: string) => createHmac('sha256', key).update(token, 'utf8').digest('hex');
  return { hash };
}
