import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/service.js';

const SCRIPT = fileURLToPath(new URL('../.ci/check-commit-subjects', import.meta.url));
const LONG = `docs: ${'make the subject longer '.repeat(3).slice(0, 67)}`;

describe('.ci/check-commit-subjects', () => {
  let dir: ReturnType<typeof tempDir>;
  let clock = Date.parse('2030-01-01T00:00:00Z') / 1000;

  /** Runs git in the scratch repository; each commit gets its own, later, date. */
  function git(...args: string[]): string {
    clock += 60;
    const date = `${clock} +0000`;
    const result = spawnSync('git', args, {
      cwd: dir.path,
      encoding: 'utf8',
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: dir.path,
        GIT_AUTHOR_NAME: 'A',
        GIT_AUTHOR_EMAIL: 'a@example.com',
        GIT_COMMITTER_NAME: 'A',
        GIT_COMMITTER_EMAIL: 'a@example.com',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }
  const commit = (subject: string) => git('commit', '--allow-empty', '-q', '-m', subject);
  function check() {
    const result = spawnSync(join(dir.path, '.ci/check-commit-subjects'), {
      cwd: dir.path,
      encoding: 'utf8',
    });
    return { code: result.status, output: result.stdout + result.stderr };
  }
  function introduceCheck() {
    mkdirSync(join(dir.path, '.ci'));
    copyFileSync(SCRIPT, join(dir.path, '.ci/check-commit-subjects'));
    git('add', '.ci');
    commit('ci: check commit subjects');
  }

  beforeEach(() => {
    dir = tempDir('chargegate-commits-');
    git('init', '-q', '-b', 'main');
    writeFileSync(join(dir.path, 'README.md'), 'x\n');
    git('add', 'README.md');
    commit(`an old subject without a scope, and longer than seventy-two characters, kept as it is`);
  });

  afterEach(() => dir.remove());

  it('passes short scoped subjects made after the check, whatever came before it', () => {
    introduceCheck();
    commit('queue: drop the age index');
    commit('api/console: show the circuit (half-open)');
    expect(LONG.length).toBe(73);
    expect(check()).toMatchObject({ code: 0 });
    expect(check().output).toContain('3 commits');
  });

  it('fails on a subject of 73 characters made after the check, naming it', () => {
    introduceCheck();
    commit(LONG);
    commit(LONG.slice(0, 72));
    const { code, output } = check();
    expect(code).toBe(1);
    expect(output).toContain('subject of 73 characters');
    expect(output).toContain(LONG);
    expect(output).toContain('1 of 3 commits');
  });

  it('fails on a subject without a scope', () => {
    introduceCheck();
    commit('Fix the retry schedule');
    expect(check()).toMatchObject({ code: 1 });
    expect(check().output).toContain('without a scope');
  });

  it('checks the commits of a branch merged later by when they were made', () => {
    git('checkout', '-q', '-b', 'feature');
    commit(`${LONG} (before)`);
    git('checkout', '-q', 'main');
    introduceCheck();
    git('merge', '-q', '--no-ff', '-m', "Merge branch 'feature'", 'feature');
    expect(check()).toMatchObject({ code: 0 });
    git('checkout', '-q', 'feature');
    commit(`${LONG} (after)`);
    git('checkout', '-q', 'main');
    git('merge', '-q', '--no-ff', '-m', "Merge branch 'feature' again", 'feature');
    const { code, output } = check();
    expect(code).toBe(1);
    expect(output).toContain('(after)');
    expect(output).not.toContain('(before)');
  });
});
