import { randomFillSync } from 'node:crypto';

/** Random bytes are drawn from the CSPRNG this many ids at a time: one call per id cost more
 * than everything else in making it (docs/performance.md, "Measured design choices"). */
const POOLED_IDS = 256;
const pool = Buffer.alloc(16 * POOLED_IDS);
let pooled = 0;

function randomSixteen(): Buffer {
  if (pooled === 0) {
    randomFillSync(pool);
    pooled = POOLED_IDS;
  }
  pooled -= 1;
  // A copy: the pool is refilled in place, and each id's bytes are used once.
  return Buffer.from(pool.subarray(pooled * 16, pooled * 16 + 16));
}

/**
 * UUID version 7 (RFC 9562): time-ordered, so request ids sort by acceptance time and index
 * well in B-trees, while 74 random bits keep them unguessable.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomSixteen();
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The lowest UUIDv7 text of the millisecond `ms`: every id made before it sorts lower, every id
 * made at or after it sorts higher. Lets a query on time use the index of the ids.
 */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8)}-0000-0000-000000000000`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(text: string): boolean {
  return UUID.test(text);
}
