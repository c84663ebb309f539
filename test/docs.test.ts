import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILES, regeneratedPage } from '../scripts/reference.js';
import { CONFIG_DOCS, CONFIG_GROUPS } from '../src/config/docs.js';
import { configSchema } from '../src/config/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const TRACKED = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f !== '');

/** The pages a reader navigates: the README, the top-level documents and docs/. */
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Markdown without its fenced code blocks, whose brackets are code, not links. */
const prose = (text: string) => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, and a
 * repeated heading numbered (`-1`, `-2`). */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function linksOf(text: string): string[] {
  return [...prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

describe('the documentation', () => {
  it.each(GENERATED_FILES)(
    '%s holds the tables the code generates (npm run docs)',
    async (file) => {
      expect(await regeneratedPage(ROOT, file)).toBe(read(file));
    },
  );

  it('describes every configuration variable, and says what leaving one unset does', () => {
    for (const [name, schema] of Object.entries(configSchema.properties)) {
      const doc = CONFIG_DOCS[name as keyof typeof CONFIG_DOCS] as
        { group: string; meaning: string; unset?: string } | undefined;
      expect(doc, name).toBeDefined();
      expect(CONFIG_GROUPS, name).toContain(doc?.group);
      expect(doc?.meaning.length, name).toBeGreaterThan(10);
      const hasDefault = 'default' in schema;
      if (!hasDefault) expect(doc?.unset, `${name}: what unset means`).toBeTruthy();
    }
    expect(Object.keys(CONFIG_DOCS).sort()).toEqual(Object.keys(configSchema.properties).sort());
  });

  it('finds links and anchors in every page', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md']));
    expect(linksOf(read('README.md'))).toContain('docs/api.md');
    expect(anchorsOf(read('README.md'))).toContain('try-it');
  });

  it.each(PAGES)('%s links only to files and headings that exist', (page) => {
    const broken: string[] = [];
    for (const link of linksOf(read(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), path));
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${link}: no file ${target}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!target.endsWith('.md') || statSync(join(ROOT, target)).isDirectory()) {
        broken.push(`${link}: an anchor into a file that is not Markdown`);
      } else if (!anchorsOf(read(target)).has(decodeURIComponent(anchor))) {
        broken.push(`${link}: no heading #${anchor} in ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('stays short where a reader starts', () => {
    const lines = (file: string) => read(file).split('\n').length - 1;
    expect(lines('README.md')).toBeLessThanOrEqual(200);
    expect(lines('docs/performance.md')).toBeLessThanOrEqual(250);
    expect(lines('docs/reliability.md')).toBeLessThanOrEqual(250);
    expect(lines('CONTRIBUTING.md')).toBeLessThanOrEqual(80);
  });

  it('keeps only the bench results the pages cite', () => {
    const cited = PAGES.flatMap((page) => [
      ...read(page).matchAll(/bench\/results\/[\w.-]+\.json/g),
    ]).map((m) => m[0]);
    const kept = TRACKED.filter((f) => f.startsWith('bench/results/'));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.filter((f) => !cited.includes(f))).toEqual([]);
  });

  it('refers to no design document outside the repository', () => {
    const files = TRACKED.filter((f) => existsSync(join(ROOT, f)) && !/\.(png|ico)$/.test(f));
    const citing = files.filter((f) => read(f).includes(['DESIGN', '§'].join(' ')));
    expect(citing).toEqual([]);
  });
});
