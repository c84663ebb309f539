/**
 * Reads a queued message's JSON payload. A corrupt payload must not leak into logs or error
 * bodies: Node's own parse error quotes the text around the fault, and payloads carry raw
 * driver tokens. The replacement keeps only the message key, which is the request id.
 */
export function parsePayload<T>(text: string, key: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`queued message ${key} has a payload that is not valid JSON`);
  }
}
