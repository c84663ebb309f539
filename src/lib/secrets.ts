import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Reads a secret kept in `dir/name`, creating it with `generate()` on first use. The value is
 * written to a private temporary file and then hard-linked into place, which fails if the name
 * exists: two processes starting at once on the same directory agree on one complete value.
 * The file is owner-only (0600), so other users of the machine cannot read it.
 */
export function loadOrCreateSecret(dir: string, name: string, generate: () => string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, name);
  const temporary = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temporary, generate() + '\n', { flag: 'wx', mode: 0o600 });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  const value = readFileSync(file, 'utf8').trim();
  if (value === '')
    throw new Error(`secret file ${file} is empty; delete it to generate a new one`);
  return value;
}
