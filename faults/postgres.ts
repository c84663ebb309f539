import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { waitFor } from '../test/helpers/wait.js';
import { freePort } from './processes.js';

/**
 * A PostgreSQL server of the suite's own: `initdb` into a temporary directory and `postgres` on
 * a free port, never the machine's server on 5432, since the suite stops it, restarts it and
 * pauses it. It uses the machine's binaries (`/usr/lib/postgresql/<version>/bin`, the newest,
 * or `FAULTS_PG_BIN`). PostgreSQL refuses to run as root; as root the suite runs it as the
 * `postgres` user (`setpriv`), in a directory that user owns.
 *
 * A pause (SIGSTOP) stops the postmaster and every process it forked (each backend is a
 * session of its own, so signalling the process group would miss them), as a stalled host
 * would.
 */
export interface PrivatePostgres {
  url: string;
  port: number;
  /** How many times it was started. */
  starts: number;
  start(): Promise<void>;
  /** Fast shutdown (SIGINT), as `pg_ctl stop -m fast` does for an upgrade; resolves on exit. */
  stop(): Promise<void>;
  /** SIGSTOP (true) or SIGCONT (false) to the postmaster and every backend. */
  pause(paused: boolean): void;
  /** Stops it (immediately) and removes its directory. */
  dispose(): Promise<void>;
}

/** The processes `pid` forked, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command may hold spaces and parentheses: the fields follow the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(entry));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // gone meanwhile
    }
  }
  return children;
}

function binDir(): string | undefined {
  const given = process.env['FAULTS_PG_BIN'];
  if (given !== undefined && given !== '') return given;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** The `postgres` user's ids, when the suite runs as root (PostgreSQL will not). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error('running as root, no postgres user');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** `command args…`, as the postgres user when the suite is root. */
function asOwner(user: ReturnType<typeof runAs>, command: string, args: string[]) {
  if (user === undefined) return { command, args };
  return {
    command: 'setpriv',
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', command, ...args],
  };
}

export function postgresBinariesAvailable(): boolean {
  const bin = binDir();
  return bin !== undefined && spawnSync(join(bin, 'postgres'), ['--version']).status === 0;
}

export async function createPrivatePostgres(logDir: string): Promise<PrivatePostgres> {
  const bin = binDir();
  if (bin === undefined) throw new Error('no PostgreSQL binaries (set FAULTS_PG_BIN)');
  const user = runAs();
  // Its own temporary directory: the run directory is private to root (mkdtemp's 0700).
  const dir = mkdtempSync(join(tmpdir(), 'chargegate-faults-pg-'));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const init = asOwner(user, join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const initialized = spawnSync(init.command, init.args, { encoding: 'utf8' });
  if (initialized.status !== 0) {
    throw new Error(`initdb failed: ${initialized.stderr || initialized.stdout}`);
  }
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const running = () => child !== null && child.exitCode === null && child.signalCode === null;

  const state: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    starts: 0,
    async start() {
      state.starts += 1;
      const log = createWriteStream(join(logDir, `postgres.${state.starts}.log`));
      const run = asOwner(user, join(bin, 'postgres'), [
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
      ]);
      const current = spawn(run.command, run.args, {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = current;
      current.stdout?.pipe(log);
      current.stderr?.pipe(log);
      exited = new Promise((resolve) => current.on('exit', () => resolve()));
      await waitFor(
        async () => {
          if (current.exitCode !== null) throw new Error('postgres exited during start-up');
          const client = new pg.Client({
            connectionString: state.url,
            connectionTimeoutMillis: 1_000,
          });
          client.on('error', () => {});
          try {
            await client.connect();
            await client.query('SELECT 1');
            return true;
          } finally {
            await client.end().catch(() => {});
          }
        },
        { timeoutMs: 30_000, intervalMs: 50, message: `private postgres on ${port}` },
      );
    },
    async stop() {
      if (running()) child?.kill('SIGINT');
      await exited;
      child = null;
    },
    pause(paused) {
      const pid = child?.pid;
      if (pid === undefined || !running()) return;
      // The postmaster first: stopped, it forks no new backend while they are stopped.
      for (const target of [pid, ...childrenOf(pid)]) {
        try {
          process.kill(target, paused ? 'SIGSTOP' : 'SIGCONT');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // ended meanwhile
        }
      }
    },
    async dispose() {
      const pid = child?.pid;
      if (pid !== undefined && running()) {
        // A paused server would not act on the signal; SIGQUIT is immediate shutdown.
        state.pause(false);
        child?.kill('SIGQUIT');
      }
      await exited;
      child = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await state.start();
  return state;
}
