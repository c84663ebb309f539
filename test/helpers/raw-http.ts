import net from 'node:net';

/**
 * A bare TCP client for what HTTP clients refuse to send (bad request lines, broken chunked
 * framing, NUL bytes, header injection), and a strict parser of whatever comes back: the
 * server may answer, or close, but every byte it sends must be well-formed HTTP/1.1.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawOutcome {
  responses: RawResponse[];
  /** Bytes after the last complete response: must be empty. */
  unparsed: Buffer;
  received: Buffer;
  /** The server kept the connection open even after we hung up. */
  stuck: boolean;
}

/** After a complete answer on a connection the server keeps open, we hang up this soon. */
const QUIET_MS = 30;
/** How long we wait for an answer or a close before hanging up ourselves. */
const PATIENCE_MS = 1_000;
/** After we hang up, a server that has not closed within this long is holding the connection;
 * generous, because a loaded CI machine can be slow to run the close. */
const HANG_UP_GRACE_MS = 5_000;

export function rawExchange(
  port: number,
  payload: Buffer,
  options: { halfClose: boolean },
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let hungUp = false;
    let stuck = false;
    const hangUp = () => {
      if (hungUp) {
        stuck = true;
        socket.destroy();
        return;
      }
      hungUp = true;
      socket.end();
      wait(HANG_UP_GRACE_MS);
    };
    const wait = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(hangUp, ms);
    };
    socket.on('connect', () => {
      socket.write(payload);
      if (options.halfClose) {
        hungUp = true;
        socket.end();
      }
      wait(options.halfClose ? HANG_UP_GRACE_MS : PATIENCE_MS);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (hungUp) return; // the grace period runs
      wait(parseResponses(Buffer.concat(chunks)).complete ? QUIET_MS : PATIENCE_MS);
    });
    // A reset is one way of closing; the outcome says what arrived before it.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const received = Buffer.concat(chunks);
      resolve({ ...parseResponses(received, true), received, stuck });
    });
  });
}

/** Splits a byte stream into HTTP/1.x responses; stops at the first thing that is not one. */
export function parseResponses(
  bytes: Buffer,
  closed = false,
): { responses: RawResponse[]; unparsed: Buffer; complete: boolean } {
  const responses: RawResponse[] = [];
  let offset = 0;
  let complete = false;
  while (offset < bytes.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', offset);
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = bytes
      .subarray(offset, headEnd)
      .toString('latin1')
      .split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(statusLine)?.[1];
    if (status === undefined) break;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) return { responses, unparsed: bytes.subarray(offset), complete: false };
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = bodyOf(bytes, headEnd + 4, Number(status), headers, closed);
    if (body === null) break;
    responses.push({ status: Number(status), headers, body: body.bytes });
    offset = body.end;
    complete = Number(status) >= 200;
  }
  return {
    responses,
    unparsed: bytes.subarray(offset),
    complete: complete && offset === bytes.length,
  };
}

function bodyOf(
  bytes: Buffer,
  start: number,
  status: number,
  headers: Record<string, string>,
  closed: boolean,
): { bytes: Buffer; end: number } | null {
  if (status < 200 || status === 204 || status === 304)
    return { bytes: Buffer.alloc(0), end: start };
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) return dechunk(bytes, start);
  const length = headers['content-length'];
  if (length !== undefined) {
    const end = start + Number(length);
    return end <= bytes.length ? { bytes: bytes.subarray(start, end), end } : null;
  }
  return closed ? { bytes: bytes.subarray(start), end: bytes.length } : null;
}

function dechunk(bytes: Buffer, start: number): { bytes: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) return null;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    at = lineEnd + 2;
    if (size === 0) {
      const end = bytes.indexOf('\r\n\r\n', at - 2);
      return end === -1 ? null : { bytes: Buffer.concat(parts), end: end + 4 };
    }
    if (at + size + 2 > bytes.length) return null;
    parts.push(bytes.subarray(at, at + size));
    at += size + 2;
  }
}
