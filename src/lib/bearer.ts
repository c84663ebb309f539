import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token checks shared by every admin API (the public API's and the reference
 * authorization service's), so both compare `ADMIN_TOKEN` the same careful way.
 */

/** Compares digests in constant time, so response timing reveals nothing about the token. */
export function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header; '' when there is none. The scheme
 * is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: string | undefined): string {
  const match = /^bearer +(.+)$/i.exec(header ?? '');
  return match?.[1]?.trim() ?? '';
}
