import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from './podman.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Installing compiles better-sqlite3 where no prebuilt binary can be downloaded. */
const INSTALL_TIMEOUT_MS = 540_000;

interface PackResult {
  filename: string;
  files: { path: string }[];
}

describe('the npm package', () => {
  const dir = tempDir('chargegate-package-');
  let tarball: string;
  let files: string[];
  const folder = join(dir.path, 'empty');

  afterAll(() => dir.remove());

  it('packs the compiled service and its example ACL, without tests, bench, faults or results', async () => {
    const { stdout } = await exec(
      'npm',
      ['pack', '--json', '--pack-destination', dir.path, '--ignore-scripts'],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    const [result] = JSON.parse(stdout) as PackResult[];
    if (result === undefined) throw new Error('npm pack reported nothing');
    tarball = join(dir.path, result.filename);
    files = result.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/cli.js',
        'dist/main.js',
        'dist/api/console/browser/index.html',
        'dist/api/console/browser/app.css',
        'dist/api/console/browser/app.js',
        'acl/example.json',
      ]),
    );
    const unwanted = files.filter((f) => /^(test|bench|faults|src|deploy|docs)\//.test(f));
    expect(unwanted).toEqual([]);
    expect(files.filter((f) => /results|\.map$|\.test\.|\.env/.test(f))).toEqual([]);
  });

  it(
    'installs in an empty folder and runs: npx chargegate --help, then start until SIGTERM',
    async () => {
      await exec('mkdir', ['-p', folder]);
      await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
        cwd: folder,
        maxBuffer: 16 * 1024 * 1024,
      });

      const help = await exec('npx', ['--no-install', 'chargegate', '--help'], { cwd: folder });
      expect(help.stdout).toContain('Usage: chargegate <command>');

      const port = await freePort();
      // Its own process group, signalled as a whole the way a terminal's Ctrl-C or a
      // supervisor does: npx does not pass a SIGTERM sent to it alone on to the service.
      const child = spawn('npx', ['--no-install', 'chargegate', 'start'], {
        cwd: folder,
        detached: true,
        env: {
          ...process.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          AUTH_SERVICE_PORT: String(await freePort()),
          DATA_DIR: join(folder, 'data'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const group = child.pid ?? 0;
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
      const groupGone = () => {
        try {
          process.kill(-group, 0);
          return false;
        } catch {
          return true;
        }
      };
      try {
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200,
          { timeoutMs: 60_000, intervalMs: 200, message: 'the installed service ready' },
        );
      } catch (error) {
        process.kill(-group, 'SIGKILL');
        throw new Error(`${String(error)}; its output:\n${output.slice(-4_000)}`);
      }
      process.kill(-group, 'SIGTERM');
      await waitFor(groupGone, {
        timeoutMs: 20_000,
        message: 'every process of npx chargegate start to exit',
      });
      // The service's own exit: it logs `stopped` only on the way to exit code 0.
      expect(output).toContain('"msg":"stopped"');
      expect(output).not.toContain('"level":50');
    },
    INSTALL_TIMEOUT_MS,
  );
});
