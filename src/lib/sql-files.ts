import { readFileSync } from 'node:fs';

/** `${name}` in a query file: a name the adapter fills in (a schema-qualified table, a shared
 * fragment). Never a value: values are always bound parameters (`$1`). */
const PLACEHOLDER = /\$\{([a-z_]+)\}/g;

/**
 * A query kept in its own `.sql` file (one statement, too long to read well inside TypeScript),
 * with its `${name}` placeholders replaced by `names`, once, when the adapter is built. Whole-line
 * `--` comments are for the reader and are not sent. A placeholder without a name, or a name
 * the file does not use, throws: a typo fails at start, not as a statement the server rejects.
 */
export function loadQuery(file: URL, names: Readonly<Record<string, string>>): string {
  const text = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .trim();
  const used = new Set<string>();
  const query = text.replace(PLACEHOLDER, (_, name: string) => {
    const value = names[name];
    if (value === undefined) throw new Error(`${file.pathname}: no value for \${${name}}`);
    used.add(name);
    return value;
  });
  const unused = Object.keys(names).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`${file.pathname} does not use ${unused.join(', ')}`);
  return query;
}
