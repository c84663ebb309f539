/**
 * GCRA (generic cell rate algorithm): a "theoretical arrival time" advances by one emission
 * interval per call; a call may start when it is no more than `burst` intervals ahead of now.
 * Returns how long to wait (0: go) and the new arrival time to keep when going.
 */
export function gcra(
  arrival: number,
  now: number,
  intervalMs: number,
  burst: number,
): { waitMs: number; next: number } {
  const tat = Math.max(arrival, now);
  const allowedAt = tat - (burst - 1) * intervalMs;
  if (now < allowedAt) return { waitMs: allowedAt - now, next: arrival };
  return { waitMs: 0, next: tat + intervalMs };
}
