import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
