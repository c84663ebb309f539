import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Code of another language lives in files of its own (`.lua`, `.sql`, `.css`, `.js`) beside the
 * TypeScript that loads it, where an editor, a linter and a reader see it as what it is. This
 * scan finds what slipped back into a long template literal. A literal of more than
 * `MAX_LINES` lines is flagged when its text looks like one of the languages below; shorter
 * ones (a short statement) may stay where they are used. Longer queries live in `.sql` files
 * too, with `${name}` placeholders for their tables (`lib/sql-files.ts`).
 */

const ROOT = join(import.meta.dirname, '..');
/** Every folder of TypeScript the repository holds. */
const FOLDERS = ['src', 'test', 'bench', 'faults', 'scripts'];
const MAX_LINES = 10;

/** Each language with what gives it away. A literal's `${…}` are blanked first. */
const LANGUAGES: Record<string, RegExp> = {
  Lua: /\bredis\.p?call\s*\(|\blocal\s+function\b|\bKEYS\[\d+\]|\bARGV\[\d+\]/,
  SQL: /\b(CREATE\s+(TABLE|(UNIQUE\s+)?INDEX|SCHEMA|VIEW|TRIGGER)|ALTER\s+TABLE|DROP\s+TABLE|SELECT\s[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\s[\s\S]*\bSET|DELETE\s+FROM)\b/,
  CSS: /[\w\]):*-]\s*\{\s*[\w-]+\s*:\s*[^;{}]+;[^{}]*\}/,
  'browser script':
    /\bdocument\.\w|\baddEventListener\s*\(|\bwindow\.\w|\bquerySelector(All)?\s*\(/,
};

interface Finding {
  /** Relative to the repository. */
  file: string;
  line: number;
  language: string;
  lines: number;
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** The literal's text with every `${…}` replaced by a blank, so code in them does not count. */
function literalText(node: ts.TemplateLiteral): string {
  if (ts.isNoSubstitutionTemplateLiteral(node)) return node.rawText ?? node.text;
  return [node.head, ...node.templateSpans.map((span) => span.literal)]
    .map((part) => part.rawText ?? part.text)
    .join(' ');
}

/** Every template literal of the file longer than `MAX_LINES` that looks like another language. */
function findCodeInStrings(file: string, text = readFileSync(file, 'utf8')): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const findings: Finding[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      const lines = node.getText(source).split('\n').length;
      if (lines > MAX_LINES) {
        const body = literalText(node);
        const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
        for (const [language, pattern] of Object.entries(LANGUAGES)) {
          if (pattern.test(body)) {
            findings.push({ file: relative(ROOT, file), line: line + 1, language, lines });
          }
        }
      }
      // A literal inside a `${…}` of another is visited on its own.
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

describe('no code of another language in TypeScript strings', () => {
  const findings = FOLDERS.flatMap((folder) => typeScriptFiles(join(ROOT, folder))).flatMap(
    (file) => findCodeInStrings(file),
  );

  it('finds none in the repository', () => {
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.language} in ${f.lines} lines`)).toEqual(
      [],
    );
  });

  it('tells each language in a long literal, and leaves short ones and plain text alone', () => {
    const long = (body: string) => `const x = \`\n${body}\n${'\n'.repeat(MAX_LINES)}\`;\n`;
    const languages = (text: string) =>
      findCodeInStrings('example.ts', text).map((finding) => finding.language);
    expect(languages(long("local t = redis.call('TIME')"))).toEqual(['Lua']);
    expect(languages(long('CREATE TABLE t (\n  id text PRIMARY KEY\n);'))).toEqual(['SQL']);
    expect(languages(long('ALTER TABLE ${table} ADD COLUMN c text;'))).toEqual(['SQL']);
    expect(languages(long('SELECT id, note\n  FROM ${table}\n  WHERE id = $1'))).toEqual(['SQL']);
    expect(languages(long('UPDATE ${t} AS s SET n = v.n\n  FROM v'))).toEqual(['SQL']);
    expect(languages(long('.chart rect {\n  fill: var(--accent);\n}'))).toEqual(['CSS']);
    expect(languages(long("document.getElementById('x').textContent = 'y';"))).toEqual([
      'browser script',
    ]);
    expect(languages(long("button.addEventListener('click', go);"))).toEqual(['browser script']);
    expect(
      languages("const x = `CREATE TABLE t (id text);\nlocal x = redis.call('GET')`;"),
    ).toEqual([]);
    expect(languages(long('A message: ${name} was created; {not: css} at all.'))).toEqual([]);
    expect(languages(long('Usage: chargegate start\n  Reads the table and creates it.'))).toEqual(
      [],
    );
  });
});
