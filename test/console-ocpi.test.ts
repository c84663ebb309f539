import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { startBody, startSession } from './helpers/client.js';

const ADMIN = 'admin-token-for-console-ocpi-tests';
const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env['CI'] === 'true';

/** As in console.test.ts: in CI a missing browser fails, never skips. */
function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (IN_CI) throw new Error(`Chromium is not installed at ${CHROMIUM}; CI=true`);
  console.warn(`SKIPPING the OCPI console test: Chromium is not installed at ${CHROMIUM}`);
  return false;
}

describe.skipIf(!chromiumAvailable())('operator console with AUTH_PROTOCOL=ocpi', () => {
  const dir = tempDir();
  let service: ServiceProcess;
  let browser: Browser;

  beforeAll(async () => {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      ADMIN_TOKEN: ADMIN,
      AUTH_PROTOCOL: 'ocpi',
      AUTH_CACHE_TTL: '1m',
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    dir.remove();
  });

  it('shows the reference, the display text and a cached source in the timeline', async () => {
    const blocked = startBody({ driver_token: 'DEMO-BLOCKED-0002-abcdefgh' });
    const first = await startSession(service.url, blocked);
    const page = await browser.newPage();
    await page.goto(`${service.url}/console`);
    await page.getByTestId('token-input').fill(ADMIN);
    await page.getByTestId('login-submit').click();

    /** The timeline's decision line of a request, looked up afresh; '' while pending. */
    const decidedLine = async (id: string) => {
      await page.getByTestId('lookup-input').fill(id);
      await page.getByTestId('lookup-submit').click();
      const decided = page.getByTestId('timeline').locator('[data-kind="decided"]');
      return (await decided.count()) === 1 ? ((await decided.textContent()) ?? '') : '';
    };
    const poll = { timeout: 15_000, interval: 100 };

    await expect.poll(() => decidedLine(first), poll).toContain('Decided: not allowed');
    const line = await decidedLine(first);
    expect(line).toMatch(/reference [0-9a-f-]{36}/);
    expect(line).toContain('“This card is blocked.” (en)');
    expect(line).not.toContain('from ');

    const again = await startSession(service.url, blocked);
    await expect.poll(() => decidedLine(again), poll).toContain('from cache');
    await page.close();
  });
});
