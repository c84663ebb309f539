import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import type { StubCommand, StubMessage } from './stubs.js';

/** The built CLI, as the tests spawn it: dist-bench/bench/ → the checkout's dist/cli.js. */
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
/** Longer than the service's SHUTDOWN_TIMEOUT_MS default (15 s), which SIGTERM may wait. */
const STOP_TIMEOUT_MS = 20_000;

const live = new Set<ChildProcess>();
// Whatever ends the harness, nothing it started outlives it.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function track(child: ChildProcess): Promise<void> {
  live.add(child);
  return new Promise((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

export interface ForkedServer {
  name: string;
  pid: number;
  url: string;
  /** Sends a command to a stub and resolves with its answer. */
  command(command: StubCommand): Promise<StubMessage>;
  onMessage(listener: (message: StubMessage) => void): void;
  stop(): Promise<void>;
}

/** Forks one of the harness's own servers (baseline.js, stubs.js, pipeline.js) and waits for
 * its port; `execArgv` are Node's flags for it (a CPU profile). */
export async function forkServer(
  name: string,
  script: string,
  args: string[] = [],
  execArgv: string[] = [],
): Promise<ForkedServer> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = track(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} during start`)));
    child.on('message', (message: StubMessage) => {
      if (message.type !== 'listening') return;
      clearTimeout(timer);
      resolve(message.port);
    });
  });
  return {
    name,
    pid: child.pid ?? 0,
    url: `http://127.0.0.1:${port}`,
    command: (command) =>
      new Promise((resolve) => {
        const answer = (message: StubMessage) => {
          if (message.type !== 'stats') return;
          child.off('message', answer);
          resolve(message);
        };
        child.on('message', answer);
        child.send(command);
      }),
    onMessage: (listener) => child.on('message', listener),
    stop: async () => {
      // The harness's servers exit when their IPC channel closes.
      if (child.connected) child.disconnect();
      await stopChild(child, exited);
    },
  };
}

export interface ServiceProcess {
  name: string;
  pid: number;
  /** The public API's URL, when the process runs the API. */
  url: string;
  logFile: string;
  stop(): Promise<void>;
}

/** A port nothing listens on now, for a service the harness then polls. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function answersLive(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Spawns the built CLI (`node [nodeArgs] dist/cli.js <command>`, through `nice -n <niceness>`
 * when that is not 0) with exactly `env` plus PATH,
 * on a port the harness picks (`PORT`, or `WORKER_PORT` for a worker), and waits until
 * `/health/live` answers there: whatever `LOG_LEVEL` the run sets, no log line is needed. Its
 * log goes to a file, not a pipe, so the harness spends no CPU reading it while it loads the
 * service.
 */
export async function spawnChargegate(
  name: string,
  command: 'start' | 'api' | 'worker',
  env: Record<string, string>,
  logFile: string,
  nodeArgs: readonly string[] = [],
  niceness = 0,
): Promise<ServiceProcess> {
  const port = await freePort();
  const fd = openSync(logFile, 'a');
  const node = [...nodeArgs, CLI, command];
  // Through nice(1), so that every thread of the process starts at that priority.
  const [file, args] =
    niceness === 0
      ? [process.execPath, node]
      : ['nice', ['-n', String(niceness), process.execPath, ...node]];
  const child = spawn(file, args, {
    env: {
      PATH: process.env['PATH'] ?? '',
      ...env,
      [command === 'worker' ? 'WORKER_PORT' : 'PORT']: String(port),
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = track(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answersLive(url))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `chargegate ${command} did not answer on ${url}/health/live:\n${readFileSync(logFile, 'utf8')}`,
      );
    }
    await sleep(50);
  }
  return {
    name,
    pid: child.pid ?? 0,
    url: command === 'worker' ? '' : url,
    logFile,
    stop: () => stopChild(child, exited),
  };
}

export interface LogSummary {
  lines: number;
  warnings: number;
  errors: number;
  /** The first few distinct warning and error messages, to explain a failure. */
  messages: string[];
  /** Decisions by persisted reason, from the service's "request decided" lines. */
  decisionReasons: Record<string, number>;
}

const DECIDED = '"msg":"request decided"';

/** Counts a service log's warnings and errors (pino levels 40 and above). */
export async function summariseLog(file: string): Promise<LogSummary> {
  const summary: LogSummary = {
    lines: 0,
    warnings: 0,
    errors: 0,
    messages: [],
    decisionReasons: {},
  };
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    summary.lines += 1;
    if (line.includes(DECIDED)) {
      const reason = /"reason":"([^"]*)"/.exec(line)?.[1] ?? 'unknown';
      summary.decisionReasons[reason] = (summary.decisionReasons[reason] ?? 0) + 1;
    }
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level === undefined || Number(level) < 40) continue;
    if (Number(level) >= 50) summary.errors += 1;
    else summary.warnings += 1;
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120);
    if (summary.messages.length < 5 && !summary.messages.includes(msg)) summary.messages.push(msg);
  }
  return summary;
}
