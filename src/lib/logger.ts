import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** pino's own stream (sonic-boom): `flushSync` writes out what is buffered. */
export type StdoutDestination = ReturnType<typeof pino.destination>;

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

/**
 * Standard output, written asynchronously: a line is appended to a buffer and written when the
 * previous write has finished, so under load many lines share one write(2) instead of each
 * blocking the event loop for its own (that was 13 % of the API thread, docs/performance.md).
 * The buffer is flushed when the process exits; a worker thread flushes it when it stops
 * (`flushSync`). A hard kill loses what is still buffered, at most the lines of one write.
 * When stdout stalls, at most MAX_BUFFERED_BYTES wait; later lines are dropped, not held.
 */
export function stdoutDestination(): StdoutDestination {
  return pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_BYTES });
}

/** Logs to `destination`, or to standard output (`stdoutDestination`) when it is absent. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  if (destination !== undefined) return pino(loggerOptions(level), destination);
  const stdout = stdoutDestination();
  const logger = pino(loggerOptions(level), stdout);
  reportDrops(stdout, logger);
  return logger;
}

/** Lines dropped while stdout stalled are counted and reported once it takes lines again. */
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
