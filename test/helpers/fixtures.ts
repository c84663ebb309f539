import { readFileSync } from 'node:fs';

/** The text of a file in test/fixtures/ (old schemas, kept as they shipped). */
export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}
