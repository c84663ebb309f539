/** Each scheduled delay is spread by ±20% so receivers recovering from an outage are not hit
 * by every retry at the same instant. */
export const JITTER_RATIO = 0.2;

/** A receiver's Retry-After is honoured within these bounds: at least a second (no hot loop),
 * at most an hour (a typo or hostile value cannot park a callback for days). */
export const RETRY_AFTER_MIN_MS = 1_000;
export const RETRY_AFTER_MAX_MS = 3_600_000;

export function withJitter(delayMs: number, random: () => number = Math.random): number {
  return Math.max(0, Math.round(delayMs * (1 + JITTER_RATIO * (2 * random() - 1))));
}

/** Parses Retry-After (delta seconds or an HTTP date) into a clamped delay; null if absent/bad. */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return null;
  let ms: number;
  if (/^\d+$/.test(value.trim())) {
    ms = Number(value.trim()) * 1_000;
  } else {
    const date = Date.parse(value);
    if (Number.isNaN(date)) return null;
    ms = date - now;
  }
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, ms));
}
