import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const exec = promisify(execFile);
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const PARSE = root('test/deploy/compose-parse.py');
/** Debian's podman-compose is a module of the system Python, whatever python3 is first on PATH. */
const PYTHON = '/usr/bin/python3';

interface Container {
  name: string;
  service_name: string;
  image: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
}

/** What podman-compose makes of a compose file, with `env` as the environment (and .env). */
async function parse(
  file: string,
  env: Record<string, string>,
): Promise<{ containers: Container[]; volumes: Record<string, unknown> }> {
  const { stdout } = await exec(PYTHON, [PARSE, root(file)], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  return JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    containers: Container[];
    volumes: Record<string, unknown>;
  };
}

/** `.env.example`'s variables, each with the command its comment gives to generate it. */
function envExample(): { name: string; generate: string | undefined }[] {
  const lines = readFileSync(root('.env.example'), 'utf8').split('\n');
  return lines.flatMap((line, index) => {
    const name = /^([A-Z_]+)=/.exec(line)?.[1];
    if (name === undefined) return [];
    const command = lines
      .slice(0, index)
      .reverse()
      .find((l) => /^#\s{3}\S/.test(l));
    return [{ name, generate: command?.replace(/^#\s+/, '') }];
  });
}

async function generated(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const { name, generate } of envExample()) {
    if (name === 'LOG_LEVEL') continue;
    expect(generate, `.env.example says how to generate ${name}`).toBeDefined();
    values[name] = (await exec('sh', ['-c', generate ?? ''])).stdout.trim();
  }
  return values;
}

const byService = (containers: Container[]) =>
  Object.fromEntries(containers.map((c) => [c.service_name, c]));

describe('compose.yaml (distributed mode), as podman-compose reads it', () => {
  it('runs Redis, PostgreSQL, the auth service, two APIs and two workers from the image', async () => {
    const { containers, volumes } = await parse('compose.yaml', await generated());
    const services = byService(containers);
    expect(Object.keys(services).sort()).toEqual([
      'api-1',
      'api-2',
      'auth-service',
      'postgres',
      'redis',
      'worker-1',
      'worker-2',
    ]);
    for (const name of ['auth-service', 'api-1', 'api-2', 'worker-1', 'worker-2']) {
      expect(services[name]).toMatchObject({ build: '.', image: 'chargegate:local' });
    }
    expect(services['api-1']?.command).toEqual(['api']);
    expect(services['worker-2']?.command).toEqual(['worker']);
    expect(services['auth-service']?.command).toEqual(['auth-service']);
    // Published on the host's loopback only: a load balancer or reverse proxy goes in front.
    expect([...(services['api-1']?.ports ?? []), ...(services['api-2']?.ports ?? [])]).toEqual([
      '127.0.0.1:8080:8080',
      '127.0.0.1:8082:8080',
    ]);
    expect(services['worker-1']?.healthcheck?.test).toEqual([
      'CMD',
      'chargegate',
      'health',
      'worker',
    ]);
    expect(volumes).toHaveProperty('redis-data');
    expect(services['postgres']?.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
  });

  it('runs Redis with append-only persistence and without eviction', async () => {
    const { containers } = await parse('compose.yaml', await generated());
    const command = byService(containers)['redis']?.command?.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(byService(containers)['redis']?.volumes).toEqual(['redis-data:/data']);
  });

  it('gives every Chargegate process a configuration it accepts, from secrets generated as .env.example says', async () => {
    const secrets = await generated();
    const { containers } = await parse('compose.yaml', secrets);
    const chargegate = containers.filter((c) => c.image === 'chargegate:local');
    for (const container of chargegate) {
      expect(() => loadConfig(container.environment ?? {}), container.name).not.toThrow();
    }
    const api = byService(containers)['api-1']?.environment ?? {};
    expect(api['WEBHOOK_SECRET']).toBe(secrets['WEBHOOK_SECRET']);
    expect(api['DATABASE_URL']).toContain(`chargegate:${secrets['POSTGRES_PASSWORD']}@postgres`);
    expect(loadConfig(byService(containers)['worker-1']?.environment ?? {}).workerPort).toBe(9090);
  });

  it('uses every variable of .env.example, and refuses to start without them', async () => {
    const compose = readFileSync(root('compose.yaml'), 'utf8');
    for (const { name } of envExample()) expect(compose).toContain(`\${${name}`);
    await expect(parse('compose.yaml', {})).rejects.toThrow(/set POSTGRES_PASSWORD in \.env/);
  });
});

describe('compose.embedded.yaml', () => {
  it('runs chargegate start with its data in a volume, and needs no settings', async () => {
    const { containers, volumes } = await parse('compose.embedded.yaml', {});
    expect(containers).toHaveLength(1);
    const [service] = containers;
    expect(service).toMatchObject({
      build: '.',
      image: 'chargegate:local',
      command: ['start'],
      ports: ['127.0.0.1:8080:8080'],
      volumes: ['chargegate-data:/data'],
    });
    expect(volumes).toHaveProperty('chargegate-data');
    expect(() => loadConfig(service?.environment ?? {})).not.toThrow();
  });
});
