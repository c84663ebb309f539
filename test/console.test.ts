import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ok, startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, startBody, startSession } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

const ADMIN = 'admin-token-for-console-tests-0123';
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../docs/console.png', import.meta.url));
/** `UPDATE_SCREENSHOT=1` rewrites the screenshot in docs/operations.md; normal runs leave the tree alone. */
const UPDATE_SCREENSHOT = process.env['UPDATE_SCREENSHOT'] === '1';
const IN_CI = process.env['CI'] === 'true';

const TOKENS = {
  allowed: 'DEMO-ALLOWED-0001-abcdefgh',
  blocked: 'DEMO-BLOCKED-0002-abcdefgh',
  expired: 'DEMO-EXPIRED-0003-abcdefgh',
  unknown: 'NOT-IN-THE-ACL-0000-abcdefgh',
};

/** In CI a missing browser is a failure, never a skip: a green run must mean the test ran. */
function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `Chromium is not installed at ${CHROMIUM}`;
  if (IN_CI) throw new Error(`${message}; CI=true, so the console test fails instead of skipping`);
  console.warn(`SKIPPING the console browser test: ${message} (apt-get install chromium)`);
  return false;
}
const haveChromium = chromiumAvailable();

describe('operator console', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: ScriptedServer;
  let service: ServiceProcess;

  beforeAll(async () => {
    dir = tempDir();
    receiver = await startScriptedServer(() => ({ status: 500, body: 'receiver down' }));
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      ADMIN_TOKEN: ADMIN,
      CALLBACK_RETRY_SCHEDULE: '50ms',
    });
  });

  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    dir?.remove();
  });

  it('is a static page with a strict CSP, its data only behind the admin token', async () => {
    const page = await call(service.url, 'GET', '/console');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.text).not.toMatch(/<script>|<style>| on[a-z]+=/);
    for (const asset of ['/console/app.js', '/console/app.css']) {
      const answer = await call(service.url, 'GET', asset);
      expect(answer.status, asset).toBe(200);
      expect(answer.text.length + page.text.length, asset).toBeLessThan(50_000);
    }

    expect((await call(service.url, 'GET', '/admin/v1/stats')).status).toBe(401);
    const stats = await call(service.url, 'GET', '/admin/v1/stats', {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(stats.status).toBe(200);
    expect(stats.json()).toMatchObject({
      accepted: expect.any(Number) as number,
      decisions: { allowed: 0, not_allowed: 0, invalid: 0, unknown: 0 },
      callback_attempts: { delivered: 0, failed: 0 },
      acknowledgement_seconds: { count: 0, le: expect.arrayContaining([0.001]) as number[] },
      queues: { requests: { depth: 0 }, callbacks: { dead_letters: 0 } },
      circuit: 'closed',
    });
  });

  it('does not exist without ADMIN_TOKEN', async () => {
    const other = tempDir();
    const plain = await spawnService('start', baseEnv(other.path));
    try {
      expect((await call(plain.url, 'GET', '/console')).status).toBe(404);
      expect((await call(plain.url, 'GET', '/console/app.js')).status).toBe(404);
    } finally {
      await plain.stop();
      other.remove();
    }
  });

  describe.skipIf(!haveChromium)('in headless Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });

    afterAll(async () => {
      await browser?.close();
    });

    const text = (page: Page, testId: string) => async () =>
      ((await page.getByTestId(testId).textContent()) ?? '').trim();
    const poll = { timeout: 15_000, interval: 100 };

    it(
      'shows live numbers, finds a request by id and replays a dead letter by clicking',
      { timeout: UPDATE_SCREENSHOT ? 120_000 : 60_000 },
      async () => {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const pageErrors: string[] = [];
        page.on('pageerror', (error) => pageErrors.push(error.message));
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
        });

        await page.goto(`${service.url}/console`);
        await page.getByTestId('token-input').fill('not-the-admin-token-at-all');
        await page.getByTestId('login-submit').click();
        await expect.poll(text(page, 'login-error'), poll).toContain('rejected');

        await page.getByTestId('token-input').fill(ADMIN);
        await page.getByTestId('login-submit').click();
        await expect.poll(text(page, 'status'), poll).toContain('Live');
        await expect.poll(text(page, 'accepted-total'), poll).toBe('0');

        const callbackUrl = `${receiver.url}/hooks`;
        const ids = [
          await startSession(service.url, startBody({ driver_token: TOKENS.allowed }, callbackUrl)),
          await startSession(service.url, startBody({ driver_token: TOKENS.allowed }, callbackUrl)),
          await startSession(service.url, startBody({ driver_token: TOKENS.blocked }, callbackUrl)),
        ];
        const [first] = ids as [string];
        await expect.poll(text(page, 'accepted-total'), poll).toBe('3');
        await expect.poll(text(page, 'decided-total'), poll).toBe('3');
        await expect.poll(text(page, 'decision-allowed'), poll).toMatch(/^2 /);
        await expect.poll(text(page, 'decision-not_allowed'), poll).toMatch(/^1 /);
        await expect.poll(text(page, 'circuit-state'), poll).toBe('closed');
        await expect.poll(text(page, 'dead-letter-count'), poll).toBe('3');
        const rows = page.getByTestId('dead-letter-row');
        await expect.poll(() => rows.count(), poll).toBe(3);

        await page.getByTestId('lookup-input').fill(first);
        await page.getByTestId('lookup-submit').click();
        const timeline = page.getByTestId('timeline');
        await expect
          .poll(() => timeline.locator('[data-kind="decided"]').textContent(), poll)
          .toContain('Decided: allowed');
        expect(await timeline.locator('[data-kind="accepted"]').count()).toBe(1);
        expect(await timeline.locator('[data-kind="attempt"]').count()).toBe(2);
        expect(await timeline.locator('[data-kind="attempt"]').first().textContent()).toContain(
          'HTTP 500',
        );
        expect(await timeline.locator('[data-kind="dead_lettered"]').count()).toBe(1);
        expect(await page.content()).not.toContain(TOKENS.allowed);

        receiver.script = ok;
        const seen = receiver.requests.length;
        await page.locator(`tr[data-request-id="${first}"]`).getByTestId('replay-button').click();
        await waitFor(
          () =>
            receiver.requests.slice(seen).some((r) => r.headers['webhook-id'] === first) || false,
          { timeoutMs: 15_000, message: 'the replayed webhook at the receiver' },
        );
        const row = page.locator(`tr[data-request-id="${first}"]`);
        await expect.poll(() => row.count(), poll).toBe(0);
        await expect.poll(text(page, 'dead-letter-count'), poll).toBe('2');
        await expect.poll(() => rows.count(), poll).toBe(2);

        await page.getByTestId('lookup-submit').click();
        await expect.poll(() => timeline.locator('[data-kind="delivered"]').count(), poll).toBe(1);
        await expect.poll(text(page, 'callback-success'), poll).toMatch(/%$/);

        if (UPDATE_SCREENSHOT) await takeScreenshot(page, service.url, callbackUrl);
        expect(pageErrors).toEqual([]);
        await page.close();
      },
    );
  });
});

/** Half a minute of mixed traffic, still flowing when the screenshot of docs/operations.md is taken, so the
 * charts and rates show data. */
async function takeScreenshot(page: Page, url: string, callbackUrl: string): Promise<void> {
  const tokens = Object.values(TOKENS);
  const weights = [0, 0, 0, 0, 0, 1, 1, 2, 3];
  let running = true;
  let latest = '';
  const traffic = (async () => {
    for (let tick = 0; running; tick += 1) {
      const burst = 2 + Math.round(3 * (1 + Math.sin(tick / 25)));
      const sent = Array.from({ length: burst }, (_, i) => {
        const token = tokens[weights[(tick * 7 + i) % weights.length] ?? 0] ?? TOKENS.allowed;
        return startSession(url, startBody({ driver_token: token }, callbackUrl));
      });
      latest = (await Promise.all(sent))[0] ?? latest;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    await waitFor(
      async () =>
        Number((await page.getByTestId('decided-total').textContent())?.replaceAll(',', '')) >
        1_500,
      {
        timeoutMs: 60_000,
        intervalMs: 500,
        message: 'traffic for the screenshot',
      },
    );
    await page.getByTestId('lookup-input').fill(latest);
    await page.getByTestId('lookup-submit').click();
    await page.locator('[data-kind="delivered"]').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  } finally {
    running = false;
    await traffic;
  }
}
