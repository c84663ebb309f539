import { readdirSync, readFileSync } from 'node:fs';

/**
 * Schema changes kept as numbered `.sql` files, one directory per migration set, beside the code
 * that applies them: the build copies them into dist/, so they ship with the compiled adapters.
 * The PostgreSQL runner (`pg-migrations.ts`) and the SQLite opener (`sqlite.ts`) both read them
 * here, so a set's versions are checked the same way wherever it runs.
 */

export interface Migration {
  /** Positive, strictly increasing within a set; never reused once released. */
  version: number;
  /** Recorded in a PostgreSQL set's history table beside the version. */
  name: string;
  sql: string;
}

/** `004-history-of-the-operator-console.sql`: the version, then the name's words (lower-case
 * letters, digits, `_`) joined by `-`. */
const FILE_NAME = /^(\d+)-([a-z0-9_]+(?:-[a-z0-9_]+)*)\.sql$/;

/**
 * The migrations of the directory `dir` (a `file:` URL ending in `/`), in version order: each
 * file `NNN-name-in-words.sql` is version NNN, named by its words (`history of the operator
 * console`). Versions run without a gap from `first`; a file not so named, two files of one
 * version, or a missing version throws, so a misplaced file fails at start, not in a database.
 */
export function loadMigrations(dir: URL, first = 1): Migration[] {
  const migrations = readdirSync(dir)
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`${file} in ${dir.pathname} is not named NNN-name.sql`);
      const [, version = '', words = ''] = match;
      return {
        version: Number(version),
        name: words.replaceAll('-', ' '),
        sql: readFileSync(new URL(file, dir), 'utf8'),
      };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((migration, i) => {
    if (migration.version !== first + i) {
      const duplicate = migrations.filter((m) => m.version === migration.version).length > 1;
      throw new Error(
        duplicate
          ? `${dir.pathname} holds migration ${migration.version} twice`
          : `${dir.pathname} lacks migration ${first + i} (next is ${migration.version})`,
      );
    }
  });
  return migrations;
}
