import type { Delivery, UnreadableDelivery } from './port.js';

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

/** A payload as stored. JSON.stringify(undefined) is undefined: `null` is stored instead. */
export function payloadText(payload: unknown): string {
  return JSON.stringify(payload) ?? 'null';
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
type RawDelivery = Omit<UnreadableDelivery, 'payload' | 'unreadable'> & { text: string };

/**
 * A leased message as handed out. One whose payload is not JSON is handed out too, marked
 * `unreadable` with a `null` payload (port.ts): its receiver sets it aside like any message it
 * cannot handle, and the messages leased with it are not held up.
 */
export function toDelivery<T>({ text, ...rest }: RawDelivery): Delivery<T> {
  const payload = readPayload<T>(text);
  return payload === undefined
    ? { ...rest, payload: null, unreadable: true }
    : { ...rest, payload };
}
