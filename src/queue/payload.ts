import type { Delivery } from './port.js';

/** The dead-letter reason of a message whose payload cannot be read. */
export const UNREADABLE_PAYLOAD = 'payload is not valid JSON';

/**
 * Reads a queued message's JSON payload. A corrupt payload must not leak into logs or error
 * bodies: Node's own parse error quotes the text around the fault, and payloads carry raw
 * driver tokens. The replacement keeps only the message key, which is the request id.
 */
export function parsePayload<T>(text: string, key: string): T {
  const payload = readPayload<T>(text);
  if (payload === undefined) {
    throw new Error(`queued message ${key} has a payload that is not valid JSON`);
  }
  return payload;
}

/** The payload, or `undefined` (which no JSON text parses to) when the text is not JSON. */
export function readPayload<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** A leased message as read from storage, its payload still text. */
type RawDelivery = Omit<Delivery, 'payload'> & { text: string };

/**
 * Parses a leased batch, keeping publish order. A message whose payload is not JSON can never be
 * handled and must not hold up the batch it came in (port.ts): it goes to `setAside`, which
 * dead-letters it. If that fails, the message stays leased and comes back when the lease ends;
 * the readable ones are handed out all the same.
 */
export async function readBatch<T>(
  raw: readonly RawDelivery[],
  setAside: (delivery: Delivery) => Promise<unknown>,
): Promise<{ deliveries: Delivery<T>[]; setAside: number }> {
  const deliveries: Delivery<T>[] = [];
  const unreadable: Delivery[] = [];
  for (const { text, ...rest } of raw) {
    const payload = readPayload<T>(text);
    if (payload === undefined) unreadable.push({ ...rest, payload: null });
    else deliveries.push({ ...rest, payload });
  }
  await Promise.all(unreadable.map((delivery) => setAside(delivery).catch(() => false)));
  return { deliveries, setAside: unreadable.length };
}
