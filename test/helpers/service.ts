import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** Public API base URL (when the process runs the API). */
  url: string;
  /** Reference authorization service base URL (when it runs one). */
  authServiceUrl: string | undefined;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  /** Parsed JSON log lines. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function tempDir(prefix = 'chargegate-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Environment every test process gets: free ports, quiet but parseable logs. */
export function baseEnv(dataDir: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    AUTH_SERVICE_PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
  };
}

/**
 * Spawns the built CLI (`node dist/cli.js <command>`) as a real process and waits until it
 * logs that it listens. The environment is exactly `env` plus PATH: nothing leaks in from the
 * developer's shell.
 */
export async function spawnService(
  command: string,
  env: Record<string, string>,
  options: { waitFor?: 'api' | 'auth-service' | 'worker'; timeoutMs?: number } = {},
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [CLI, command], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const logs = () =>
    text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const expected = options.waitFor ?? 'api';
  const message = {
    api: 'public API listening',
    'auth-service': 'reference authorization service listening',
    worker: 'worker and callback dispatcher started',
  }[expected];
  await waitFor(
    () => {
      if (exitedEarly) throw new Error('process exited during start-up');
      return logs().some((l) => l['msg'] === message);
    },
    { timeoutMs: options.timeoutMs ?? 30_000, message: `"${message}" from chargegate ${command}` },
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    // What it printed tells a slow start from a stuck one.
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${reason}; its output:\n${text.slice(-4_000)}`);
  });
  const urlOf = (msg: string) =>
    logs().find((l) => l['msg'] === msg)?.['url'] as string | undefined;
  return {
    child,
    url: urlOf('public API listening') ?? '',
    authServiceUrl: urlOf('reference authorization service listening'),
    output: () => text,
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, output };
}
