import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Every container and volume the tests make carries this label, for the cleanup. */
export const TEST_LABEL = 'chargegate.test=deploy';

/** The image under test (built by test/deploy/run.sh, which sets this variable). */
export function imageUnderTest(): string {
  const image = process.env['CHARGEGATE_IMAGE'];
  if (image === undefined || image === '') {
    throw new Error('CHARGEGATE_IMAGE is not set: run these tests with npm run test:containers');
  }
  return image;
}

/** Runs podman and returns its stdout, trimmed; fails with its stderr. */
export async function podman(...args: string[]): Promise<string> {
  try {
    const { stdout } = await exec('podman', args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`podman ${args.join(' ')} failed: ${stderr.trim() || String(error)}`);
  }
}

/** Whether a command exits 0 (podman healthcheck run answers with its exit code). */
export async function succeeds(command: string, ...args: string[]): Promise<boolean> {
  try {
    await exec(command, args);
    return true;
  } catch {
    return false;
  }
}

export interface ContainerOptions {
  image: string;
  /** The chargegate command: start, api, worker, auth-service. */
  command: string;
  env: Record<string, string>;
  volume?: string;
  /** Overrides the image's HEALTHCHECK (a worker or auth-service checks its own port). */
  healthCommand?: string;
}

/**
 * Starts a container on the host's network (the tests' receivers, Redis and PostgreSQL are on
 * 127.0.0.1) and returns its id.
 */
export async function runContainer(options: ContainerOptions): Promise<string> {
  const args = ['run', '--detach', '--network=host', '--label', TEST_LABEL];
  for (const [name, value] of Object.entries(options.env)) args.push('--env', `${name}=${value}`);
  if (options.volume !== undefined) args.push('--volume', `${options.volume}:/data`);
  if (options.healthCommand !== undefined) args.push('--health-cmd', options.healthCommand);
  args.push(options.image, options.command);
  return podman(...args);
}

export async function logsOf(id: string): Promise<string> {
  try {
    const { stdout, stderr } = await exec('podman', ['logs', id], { maxBuffer: 64 * 1024 * 1024 });
    return stdout + stderr;
  } catch {
    return '';
  }
}

/** Removes containers (and their anonymous volumes) whatever their state. */
export async function removeContainers(ids: string[]): Promise<void> {
  if (ids.length > 0) await podman('rm', '--force', '--volumes', '--time', '0', ...ids);
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

export interface Socket {
  local: string;
  remote: string;
  state: string;
}

/** /proc/net/tcp addresses: little-endian hex IPv4, or four little-endian words of IPv6. */
function decodeAddress(hex: string): string {
  const [ip = '', port = ''] = hex.split(':');
  const portNumber = parseInt(port, 16);
  if (ip.length === 8) {
    const bytes = ip.match(/../g)?.map((b) => parseInt(b, 16)) ?? [];
    return `${bytes.reverse().join('.')}:${portNumber}`;
  }
  const words = (ip.match(/.{8}/g) ?? []).map((w) => (w.match(/../g) ?? []).reverse().join(''));
  const groups = words.join('').match(/.{4}/g) ?? [];
  return `[${groups.join(':')}]:${portNumber}`;
}

const TCP_STATES: Record<string, string> = { '01': 'established', '0A': 'listen' };

/**
 * The TCP sockets a container's processes hold right now, read from /proc: the sockets among
 * their open files, matched with the kernel's TCP tables of their network namespace.
 */
export async function socketsOf(id: string): Promise<Socket[]> {
  const pid = await podman('inspect', '--format', '{{.State.Pid}}', id);
  const inodes = new Set<string>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const fd of readdirSync(`/proc/${pid}/task/${task}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/task/${task}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode !== undefined) inodes.add(inode);
      } catch {
        // closed meanwhile
      }
    }
  }
  const sockets: Socket[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const [, local = '', remote = '', state = '', , , , , , inode = ''] = line
        .trim()
        .split(/\s+/);
      if (inodes.has(inode)) {
        sockets.push({
          local: decodeAddress(local),
          remote: decodeAddress(remote),
          state: TCP_STATES[state] ?? state,
        });
      }
    }
  }
  return sockets;
}

const LOOPBACK = [
  /^127\.\d+\.\d+\.\d+:/,
  /^0\.0\.0\.0:0$/,
  /^\[0000:0000:0000:0000:0000:0000:0000:0001\]:/,
  /^\[0000:0000:0000:0000:0000:FFFF:7F\w\w:\w{4}\]:/i,
  /^\[0000:0000:0000:0000:0000:0000:0000:0000\]:0$/,
];

/** Sockets with an end (local, or the peer) outside the loopback network. */
export function beyondLoopback(sockets: Socket[]): Socket[] {
  const loopback = (address: string) => LOOPBACK.some((pattern) => pattern.test(address));
  return sockets.filter((s) => !loopback(s.local) || !loopback(s.remote));
}
