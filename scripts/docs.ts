/** `npm run docs`: regenerates the reference tables of docs/ from the code (scripts/reference.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_FILES, regeneratedPage } from './reference.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

for (const file of GENERATED_FILES) {
  const path = join(root, file);
  const next = await regeneratedPage(root, file);
  const changed = next !== readFileSync(path, 'utf8');
  if (changed) writeFileSync(path, next);
  console.log(`${changed ? 'updated' : 'up to date'}: ${file}`);
}
