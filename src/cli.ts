#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { DEAD_LETTERS_USAGE, runDeadLetters } from './dead-letters-cli.js';
import { CLIENTS_USAGE, runClients } from './clients-cli.js';
import { HEALTH_USAGE, runHealth } from './health-cli.js';
import { createLogger } from './lib/logger.js';
import { startChargegate, VERSION, type Role } from './main.js';

const COMMANDS: Record<string, { roles: Role[]; summary: string }> = {
  start: {
    roles: ['api', 'worker', 'auth-service'],
    summary:
      'Run everything in one process: public API, worker, callback dispatcher, and the reference authorization service unless AUTH_SERVICE_URL is set.',
  },
  api: { roles: ['api'], summary: 'Run the public API only.' },
  worker: { roles: ['worker'], summary: 'Run the worker and the callback dispatcher only.' },
  'auth-service': {
    roles: ['auth-service'],
    summary: 'Run the reference authorization service only (on AUTH_SERVICE_PORT).',
  },
};

const USAGE = `Usage: chargegate <command> [--help]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(14)}${c.summary}`)
  .join('\n')}

  dead-letters  List, replay or purge dead-lettered callbacks (see dead-letters --help).
  clients       Create, list, rotate and delete API clients (see clients --help).
  health        Exit 0 when the process on this host is ready (see health --help).

Every setting is an environment variable (PORT, HOST, DATA_DIR, AUTH_SERVICE_URL,
AUTH_SERVICE_PORT, AUTH_TIMEOUT_MS, AUTH_MAX_IN_FLIGHT, ACL_FILE, WEBHOOK_SECRET,
CALLBACK_TIMEOUT_MS, CALLBACK_RETRY_SCHEDULE, CALLBACK_ALLOW_PRIVATE_NETWORKS, ADMIN_TOKEN,
LOG_LEVEL, …); docs/configuration.md lists them all with their defaults.

Signals: SIGTERM or SIGINT stops accepting, finishes in-flight work and exits 0.`;

/** How far past SHUTDOWN_TIMEOUT_MS a stopping process may run before it exits regardless. */
const SHUTDOWN_GRACE_MS = 5_000;

/** The configuration, or `null` after printing every bad variable. */
function configOrExit(): Config | null {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`chargegate: ${error.code}: ${error.message}\n`);
      return null;
    }
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    // Options after a command (e.g. dead-letters --all) belong to that command.
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  });
  const [name, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (name === 'dead-letters') {
    if (values.help) {
      process.stdout.write(`${DEAD_LETTERS_USAGE}\n`);
      return 0;
    }
    const config = configOrExit();
    return config === null ? 1 : runDeadLetters(argv.slice(1), config);
  }
  if (name === 'clients') {
    if (values.help) {
      process.stdout.write(`${CLIENTS_USAGE}\n`);
      return 0;
    }
    const config = configOrExit();
    return config === null ? 1 : runClients(argv.slice(1), config);
  }
  if (name === 'health') {
    if (values.help) {
      process.stdout.write(`${HEALTH_USAGE}\n`);
      return 0;
    }
    const config = configOrExit();
    return config === null ? 1 : runHealth(rest, config);
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (values.help || name === undefined || name === 'help') {
    process.stdout.write(
      command
        ? `Usage: chargegate ${name}\n\n${command.summary}\n\nSee chargegate --help for settings.\n`
        : `${USAGE}\n`,
    );
    return name === undefined && !values.help ? 1 : 0;
  }
  if (!command || rest.length > 0) {
    process.stderr.write(
      `chargegate: unknown command "${[name, ...rest].join(' ')}"\n\n${USAGE}\n`,
    );
    return 1;
  }

  const config = configOrExit();
  if (config === null) return 1;

  const logger = createLogger(config.logLevel);
  const roles = new Set(command.roles);
  // With AUTH_SERVICE_URL set, `start` uses that service: the reference one would only take a port.
  if (config.auth.url !== undefined) roles.delete('auth-service');
  let running: Awaited<ReturnType<typeof startChargegate>>;
  try {
    running = await startChargegate(config, roles, logger);
  } catch (error) {
    // What only the roles make necessary (AUTH_OCPI_TOKEN for a worker calling elsewhere).
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`chargegate: ${error.code}: ${error.message}\n`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'stopping: no new requests, finishing in-flight work');
      // Every part stops within SHUTDOWN_TIMEOUT_MS by itself; this is the backstop, so that
      // nothing (a client, a stalled backend) can keep the process past it for long.
      setTimeout(() => {
        logger.error(
          { shutdown_timeout_ms: config.shutdownTimeoutMs },
          'shutdown did not finish in time: exiting without waiting',
        );
        resolve(1);
      }, config.shutdownTimeoutMs + SHUTDOWN_GRACE_MS).unref();
      running.close().then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Anything still holding the loop open after a clean stop would hang the exit.
    setTimeout(() => process.exit(code), 1_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(
      `chargegate: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
