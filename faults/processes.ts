import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  createWriteStream,
  mkdirSync,
  readFileSync,
  symlinkSync,
  type WriteStream,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { CLI } from '../test/helpers/service.js';

export type Command = 'start' | 'api' | 'worker';

/** The line each role logs once it serves (the same ones `test/helpers/service.ts` waits for). */
const READY: Record<Command, string> = {
  start: 'public API listening',
  api: 'public API listening',
  worker: 'worker and callback dispatcher started',
};

const START_TIMEOUT_MS = 20_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** One incarnation of a process: its log file, and how it ended. */
export interface Incarnation {
  name: string;
  number: number;
  logFile: string;
  startedAt: number;
  /** The first signal the suite sent, and when; absent when the process ended on its own. */
  signalled?: { signal: NodeJS.Signals; at: number };
  /** Every signal the suite sent (a SIGTERM that was not obeyed is followed by SIGKILL). */
  signals: { signal: NodeJS.Signals; at: number }[];
  /** SIGSTOPs and SIGCONTs the suite sent (see `ManagedProcess.pause`). */
  pauses?: { paused: boolean; at: number }[];
  exit?: Exit;
}

/**
 * Copies the built CLI (`dist/`, with the `package.json` and bundled ACL it reads) into the run
 * directory and returns the copy's `cli.js`. Every incarnation of every process then runs the
 * same code, even if `dist/` is rebuilt while the run is under way.
 */
export function snapshotBuild(dir: string, dist = process.env['FAULTS_DIST']): string {
  const root = dirname(dirname(CLI));
  const app = join(dir, 'app');
  mkdirSync(app, { recursive: true });
  // FAULTS_DIST runs the suite against another build (e.g. one without a fix, to see it fail).
  cpSync(dist ?? join(root, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(root, 'acl'), join(app, 'acl'), { recursive: true });
  // The example station catalog, which embedded mode seeds an empty catalog from.
  cpSync(join(root, 'examples'), join(app, 'examples'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
  return join(app, 'dist', 'cli.js');
}

/** A free TCP port on 127.0.0.1, so a restarted process can come back on the same port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/**
 * A Chargegate role (`node dist/cli.js <command>`) that the suite kills and restarts. Every
 * incarnation writes everything it prints to its own file, so the checker reads the output of
 * all processes that ever ran, across restarts, and the privacy scan greps all of it.
 */
export class ManagedProcess {
  readonly incarnations: Incarnation[] = [];
  /** Whether the load sends to it: off from its SIGTERM until it is back, as a load balancer
   * takes a stopping instance out of rotation (a SIGKILLed one is found out by refusals). */
  inRotation = true;
  #child: ChildProcess | null = null;
  #exited: Promise<Exit> | null = null;

  constructor(
    readonly cli: string,
    readonly name: string,
    readonly command: Command,
    readonly env: Record<string, string>,
    readonly logDir: string,
    /** Fixed port of the public API, when the role runs one; the same after every restart. */
    readonly port?: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port ?? 0}`;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Spawns a new incarnation and resolves once it logs that it serves. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const number = this.incarnations.length + 1;
    const logFile = join(this.logDir, `${this.name}.${number}.log`);
    const incarnation: Incarnation = {
      name: this.name,
      number,
      logFile,
      startedAt: Date.now(),
      signals: [],
    };
    this.incarnations.push(incarnation);
    const out: WriteStream = createWriteStream(logFile);
    const env = {
      PATH: process.env['PATH'] ?? '',
      ...this.env,
      ...(this.port === undefined ? {} : { PORT: String(this.port) }),
    };
    const child = spawn(process.execPath, [this.cli, this.command], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const ready = READY[this.command];
    let pending = '';
    let isReady = false;
    let onReady: () => void = () => {};
    const readyPromise = new Promise<void>((resolve) => (onReady = resolve));
    const scan = (chunk: Buffer) => {
      out.write(chunk);
      if (isReady) return;
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (lines.some((line) => line.includes(`"msg":"${ready}"`))) {
        isReady = true;
        pending = '';
        onReady();
      }
    };
    child.stdout?.on('data', scan);
    child.stderr?.on('data', scan);
    this.#exited = new Promise<Exit>((resolve) =>
      child.on('exit', (code, signal) => {
        const exit = { code, signal, at: Date.now() };
        incarnation.exit = exit;
        // The pipes may still hold output: end the file once they are drained.
        let open = 2;
        const done = () => {
          open -= 1;
          if (open === 0) out.end(() => resolve(exit));
        };
        if (child.stdout?.readableEnded !== false) done();
        else child.stdout.once('end', done);
        if (child.stderr?.readableEnded !== false) done();
        else child.stderr.once('end', done);
      }),
    );
    const exited = this.#exited;
    let timer: NodeJS.Timeout | undefined;
    const failure = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} did not log "${ready}" in ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      void exited.then(() =>
        reject(new Error(`${this.name} exited during start-up; see ${logFile}`)),
      );
    });
    try {
      await Promise.race([readyPromise, failure]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` and records it; resolves when the process has exited (or at once). */
  async signal(signal: NodeJS.Signals): Promise<Exit | undefined> {
    const child = this.#child;
    const incarnation = this.incarnations.at(-1);
    if (child === null || this.#exited === null || incarnation === undefined) return undefined;
    if (this.running) {
      // A paused process would not act on the signal before it is continued.
      child.kill('SIGCONT');
      const sent = { signal, at: Date.now() };
      incarnation.signalled ??= sent;
      incarnation.signals.push(sent);
      child.kill(signal);
    }
    return this.#exited;
  }

  /**
   * SIGSTOP (true) or SIGCONT (false): a pause, as a long GC or a noisy host. Not recorded as
   * a signal the suite sent: the process is meant to carry on, and ending later is a crash.
   */
  pause(paused: boolean): void {
    const incarnation = this.incarnations.at(-1);
    if (!this.running || this.#child === null || incarnation === undefined) return;
    (incarnation.pauses ??= []).push({ paused, at: Date.now() });
    this.#child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  /** The current incarnation's exit, for SIGTERM checks with a deadline. */
  get exited(): Promise<Exit> | null {
    return this.#exited;
  }

  /** Everything every incarnation printed. */
  output(): string {
    return this.incarnations.map((i) => readFileSync(i.logFile, 'utf8')).join('\n');
  }
}

/** Parsed JSON lines of a log text; other lines (stack traces, stderr) are skipped. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by SIGKILL is not JSON; it carries nothing the checker needs.
    }
  }
  return lines;
}
