import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The layering of docs/architecture.md ("Which folder may import which") is checked by
 * dependency-cruiser in `npm run lint`. These tests run that check on src/ and show that it
 * fails on the mistakes it exists for.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Check {
  code: number;
  output: string;
}

async function depcruise(cwd: string): Promise<Check> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [DEPCRUISE, 'src', '--config', CONFIG],
      { cwd },
    );
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: failed.stdout };
  }
}

const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A project of a few files under `src/`, checked with the repository's rules. */
async function project(files: Record<string, string>): Promise<Check> {
  const dir = await mkdtemp(join(tmpdir(), 'chargegate-layering-'));
  scratch.push(dir);
  const all = { 'tsconfig.json': '{ "compilerOptions": { "module": "nodenext" } }', ...files };
  for (const [path, text] of Object.entries(all)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return depcruise(dir);
}

describe('the layering of src/', () => {
  it('holds in this repository', async () => {
    const check = await depcruise(ROOT);
    expect(check.output).toContain('no dependency violations found');
    expect(check.code).toBe(0);
  });

  it('fails on an import that runs up the layers', async () => {
    const check = await project({
      'src/lib/ids.ts': "import { route } from '../api/route.js';\nexport const id = route;\n",
      'src/api/route.ts': "export const route = 'r';\n",
    });
    expect(check.code).not.toBe(0);
    expect(check.output).toContain('layer-lib: src/lib/ids.ts → src/api/route.ts');
  });

  it('fails on a cycle inside one folder', async () => {
    const check = await project({
      'src/store/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/store/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    expect(check.code).not.toBe(0);
    expect(check.output).toContain('no-circular');
  });

  it('fails when a folder imports an entry point', async () => {
    const check = await project({
      'src/worker/role.ts': "import { main } from '../main.js';\nexport const role = main;\n",
      'src/main.ts': "export const main = 'm';\n",
    });
    expect(check.code).not.toBe(0);
    expect(check.output).toContain('no-entry-point-imports: src/worker/role.ts → src/main.ts');
  });

  it('fails when a role reaches an adapter around its port', async () => {
    const check = await project({
      'src/api/server.ts': "import { open } from '../store/sqlite.js';\nexport const s = open;\n",
      'src/store/sqlite.ts': "export const open = 'o';\n",
    });
    expect(check.code).not.toBe(0);
    expect(check.output).toContain(
      'adapters-through-wiring: src/api/server.ts → src/store/sqlite.ts',
    );
  });
});
