import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** pino's own stream (sonic-boom): `flushSync` writes out what is buffered. */
type StdoutDestination = ReturnType<typeof pino.destination>;

/**
 * Redaction is configured here, once, rather than remembered at every log call: any field named
 * `driver_token` at the top level or one or two levels down, and credentials in headers, are
 * replaced before a line is written. Code logs a token's fingerprint, never the token.
 *
 * pino redacts the exact paths itself. The wildcard ones (`*.driver_token` and the like) are
 * applied by `scrub` instead: given a wildcard path, pino runs its redactor on every value of
 * every line, several times what `scrub` costs (docs/performance.md, "Measured design choices").
 * `scrub` looks only at nested objects and copies a line's object only when it finds something
 * to hide. It sees a line's fields before serializers run (pino's paths, after): a serializer
 * must not add a token, and none here does (the `err` serializer copies the error's fields,
 * which `scrub` has already seen). `%j` arguments and `setBindings` are not scrubbed: this code
 * uses neither.
 */
const EXACT_PATHS = [
  'driver_token',
  // ioredis attaches a failed command's arguments to its errors; a publish's carry the payload.
  'err.command.args',
  // Node attaches the bytes of a malformed HTTP request (a body included) to its parse error,
  // which Fastify logs at trace level.
  'err.rawPacket',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/** What `scrub` hides below the top level, as pino paths. */
const NESTED_PATHS = [
  '*.driver_token',
  '*.*.driver_token',
  '*.err.command.args',
  '*.err.rawPacket',
];

/** Everything hidden, as pino paths: for a logger this module does not build (the
 * authorization service accepts one from its embedder). */
export const REDACT_PATHS = [...EXACT_PATHS, ...NESTED_PATHS];

/** What replaces a hidden value, in log lines and wherever else a token is hidden. */
export const CENSOR = '[redacted]';

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: EXACT_PATHS, censor: CENSOR },
    formatters: { log: scrub, bindings: scrub },
    onChild: scrubBindings,
    base: { pid: process.pid, service: 'chargegate' },
    timestamp: isoTime,
  };
}

type Fields = Record<string, unknown>;

/**
 * `NESTED_PATHS` applied to a line's object (or a child logger's bindings): the object itself
 * when nothing matches, which is almost always, else a copy with the matches replaced. The
 * caller's objects are never changed.
 */
function scrub(fields: Fields): Fields {
  let copy: Fields | undefined;
  for (const key in fields) {
    // Own fields only, as pino writes, checked before reading: an inherited getter is not run.
    if (!Object.hasOwn(fields, key)) continue;
    const value = fields[key];
    if (!isNested(value)) continue;
    let scrubbed = hide(value, 'driver_token');
    const err = scrubbed.err;
    if (isNested(err)) {
      let hidden = hide(err, 'rawPacket');
      const command = hidden.command;
      if (isNested(command) && 'args' in command) {
        hidden = withField(hidden, 'command', withField(command, 'args', CENSOR));
      }
      if (hidden !== err) scrubbed = withField(scrubbed, 'err', hidden);
    }
    for (const inner in scrubbed) {
      if (!Object.hasOwn(scrubbed, inner)) continue;
      const child = scrubbed[inner];
      if (!isNested(child)) continue;
      const hidden = hide(child, 'driver_token');
      if (hidden !== child) scrubbed = withField(scrubbed, inner, hidden);
    }
    if (scrubbed !== value) (copy ??= { ...fields })[key] = scrubbed;
  }
  return copy ?? fields;
}

/** What a child logger's bindings must contain for `scrub` to find anything in them. */
const NESTED_MARKERS = ['"driver_token"', '"rawPacket"', '"args"'];

/**
 * A child logger's bindings, scrubbed: pino applies its `bindings` formatter to the root
 * logger's only, and serializes a child's bindings once, when the child is made. They are read
 * back and written again only when they hold a name `scrub` looks for.
 */
function scrubBindings(child: Logger): void {
  const holder = child as unknown as Record<symbol, unknown>;
  const text = holder[pino.symbols.chindingsSym];
  if (typeof text !== 'string' || !NESTED_MARKERS.some((marker) => text.includes(marker))) return;
  let bindings: Fields;
  try {
    bindings = JSON.parse(`{${text.slice(1)}}`) as Fields;
  } catch {
    // Not the JSON pino writes: hide them all rather than risk a token.
    holder[pino.symbols.chindingsSym] = `,"bindings":"${CENSOR}"`;
    return;
  }
  const scrubbed = scrub(bindings);
  if (scrubbed !== bindings)
    holder[pino.symbols.chindingsSym] = `,${JSON.stringify(scrubbed).slice(1, -1)}`;
}

/** An object or array whose fields a line shows (not a buffer's bytes). */
function isNested(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value);
}

function hide(fields: Fields, key: string): Fields {
  return key in fields ? withField(fields, key, CENSOR) : fields;
}

/** A copy of `fields` with `key` set. An array stays an array; an object keeps its prototype and
 * property attributes, so an error keeps its message and stack (even a frozen one is copied). */
function withField(fields: Fields, key: string, value: unknown): Fields {
  if (Array.isArray(fields)) return Object.assign([...(fields as unknown[])], { [key]: value });
  const descriptors = Object.getOwnPropertyDescriptors(fields);
  descriptors[key] = { value, enumerable: true, writable: true, configurable: true };
  return Object.create(Object.getPrototypeOf(fields) as object | null, descriptors) as Fields;
}

let lastTimeMs = Number.NaN;
let lastTime = '';

/** pino's `isoTime`, formatted once per millisecond: under load a thread writes several lines
 * a millisecond, and `toISOString` showed in the API thread's profile. */
function isoTime(): string {
  const now = Date.now();
  if (now !== lastTimeMs) {
    lastTimeMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** Log bytes buffered while stdout is slow; past this, lines are dropped (and counted). */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** Dropped lines are reported at most this often. */
const DROP_REPORT_MS = 5_000;

/** One write(2) carries at most this much: whole lines, and no more than a pipe writes
 * atomically (PIPE_BUF), so the lines of the process's threads never splice into each other. */
const MAX_WRITE_BYTES = 4096;

/**
 * Standard output, written asynchronously: a line is appended to a buffer and written when the
 * previous write has finished, so under load many lines share one write(2) instead of each
 * blocking the event loop for its own (docs/performance.md, "Measured design choices"). pino writes out the main thread's buffer when the process exits; a worker thread
 * writes its own out on exit with `flushLogSync`, and its pending writes keep it alive until
 * done on a clean stop. A hard kill loses what is still buffered (under load, a few
 * milliseconds of lines). While stdout stalls, each thread holds at most MAX_BUFFERED_BYTES;
 * later lines are dropped, not held.
 */
function stdoutDestination(): StdoutDestination {
  return pino.destination({
    dest: 1,
    sync: false,
    maxLength: MAX_BUFFERED_BYTES,
    maxWrite: MAX_WRITE_BYTES,
  });
}

/** Writes out, synchronously, what `logger` (built by `createLogger`) still buffers. */
export function flushLogSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    { flushSync?: () => void } | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    // Not open yet, or closed: nothing that can still be written.
  }
}

/** Logs to `destination`, or to standard output (`stdoutDestination`) when it is absent. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  if (destination !== undefined) return pino(loggerOptions(level), destination);
  const stdout = stdoutDestination();
  const logger = pino(loggerOptions(level), stdout);
  reportDrops(stdout, logger);
  return logger;
}

/** Lines dropped while stdout stalled are counted and reported 5 s after the first drop (the
 * report itself is dropped, and counted, if stdout is still stalled then). */
function reportDrops(destination: StdoutDestination, logger: Logger): void {
  let dropped = 0;
  destination.on('drop', () => {
    dropped += 1;
    if (dropped > 1) return;
    setTimeout(() => {
      logger.warn({ dropped }, 'log lines dropped: standard output did not keep up');
      dropped = 0;
    }, DROP_REPORT_MS).unref();
  });
}
