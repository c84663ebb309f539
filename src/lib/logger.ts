import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** pino's own stream (sonic-boom): `flushSync` writes out what is buffered. */
type StdoutDestination = ReturnType<typeof pino.destination>;

/**
 * Redaction is configured here, once, rather than remembered at every log call: any field named
 * `driver_token` at the top level or one or two levels down, and credentials in headers, are
 * replaced before a line is written. Code logs a token's fingerprint, never the token.
 */
export const REDACT_PATHS = [
  'driver_token',
  '*.driver_token',
  '*.*.driver_token',
  // ioredis attaches a failed command's arguments to its errors; a publish's carry the payload.
  'err.command.args',
  '*.err.command.args',
  // Node attaches the bytes of a malformed HTTP request (a body included) to its parse error,
  // which Fastify logs at trace level.
  'err.rawPacket',
  '*.err.rawPacket',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid, service: 'chargegate' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
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
 * blocking the event loop for its own (docs/performance.md: 10–12 µs of CPU per line instead
 * of 15–17). pino writes out the main thread's buffer when the process exits; a worker thread
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
