import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ok, startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, getSession, startBody, startSession } from './helpers/client.js';
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
    const assets = {
      '/console/app.js': /^text\/javascript/,
      '/console/session.js': /^text\/javascript/,
      '/console/app.css': /^text\/css/,
    };
    for (const [asset, type] of Object.entries(assets)) {
      const answer = await call(service.url, 'GET', asset);
      expect(answer.status, asset).toBe(200);
      expect(answer.headers['content-type'], asset).toMatch(type);
      expect(answer.headers['content-security-policy'], asset).toContain("default-src 'self'");
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

    /** Sends `count` requests whose callbacks go to `url`, and waits until each settles. */
    async function burst(url: string, count: number, token = TOKENS.allowed): Promise<string[]> {
      const ids = await Promise.all(
        Array.from({ length: count }, () =>
          startSession(service.url, startBody({ driver_token: token }, `${url}/hooks`)),
        ),
      );
      for (const id of ids) {
        await waitFor(
          async () => {
            const { state } = (await getSession(service.url, id))['callback'] as { state: string };
            return state === 'delivered' || state === 'dead_lettered';
          },
          { timeoutMs: 20_000, message: `the callback of ${id} settled` },
        );
      }
      return ids;
    }

    it(
      'opened after a burst, shows it in the charts and tiles, switches range and replays one group',
      { timeout: UPDATE_SCREENSHOT ? 400_000 : 90_000 },
      async () => {
        const healthy = await startScriptedServer(ok);
        const busy = await startScriptedServer(() => ({ status: 503, body: 'busy' }));
        try {
          // The burst happens before the console is opened.
          const delivered = await burst(healthy.url, 24);
          await burst(healthy.url, 6, TOKENS.blocked);
          const toDown = await burst(receiver.url, 3);
          const toBusy = await burst(busy.url, 2);
          const total = delivered.length + 6 + toDown.length + toBusy.length;

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

          // The charts and tiles hold the burst that ended before the page was opened.
          const chart = (testId: string, name: string) => async () =>
            page.getByTestId(testId).getAttribute(`data-${name}`);
          await expect.poll(chart('chart-throughput', 'accepted'), poll).toBe(String(total));
          expect(await chart('chart-throughput', 'decided')()).toBe(String(total));
          expect(await chart('chart-latency', 'count')()).toBe(String(total));
          expect(await chart('chart-callback-latency', 'count')()).toBe('30');
          expect(await chart('chart-callbacks', 'delivered')()).toBe('30');
          expect(await chart('chart-callbacks', 'dead-lettered')()).toBe('5');
          expect(await chart('chart-backlog', 'now')()).toBe('0');
          for (const tile of ['ack-p50', 'ack-p99', 'callback-p50', 'auth-p50']) {
            expect(await text(page, tile)(), tile).toMatch(/^[0-9.,]+ ms$/);
          }
          await expect.poll(text(page, 'accepted-total'), poll).toBe(String(total));
          await expect.poll(text(page, 'decision-not_allowed'), poll).toMatch(/^6 /);
          await expect.poll(text(page, 'dead-letter-count'), poll).toBe('5');
          await expect.poll(text(page, 'history-note'), poll).toContain('last 15 minutes');

          await page.getByTestId('range-1h').click();
          await expect.poll(text(page, 'history-note'), poll).toContain('last hour');
          expect(await page.getByTestId('range-1h').getAttribute('aria-pressed')).toBe('true');
          expect(await chart('chart-throughput', 'accepted')()).toBe(String(total));

          // Two receivers, two groups; replaying one delivers exactly its callbacks.
          const groups = page.getByTestId('dead-letter-group');
          await expect.poll(() => groups.count(), poll).toBe(2);
          const downHost = new URL(receiver.url).host;
          const downGroup = page.locator(`tr[data-host="${downHost}"]`);
          expect(await downGroup.textContent()).toContain('http_500');
          await downGroup.getByTestId('group-replay').click();
          await expect.poll(text(page, 'confirm-text'), poll).toContain('3 callbacks');
          expect(await text(page, 'confirm-hosts')()).toBe(`3 → ${downHost}`);
          receiver.script = ok;
          const seen = receiver.requests.length;
          const seenBusy = busy.requests.length;
          await page.getByTestId('confirm-replay').click();
          await waitFor(() => receiver.requests.length - seen >= 3, {
            timeoutMs: 15_000,
            message: 'the replayed group at its receiver',
          });
          await expect.poll(() => groups.count(), poll).toBe(1);
          const replayedIds = receiver.requests.slice(seen).map((r) => r.headers['webhook-id']);
          expect(replayedIds.sort()).toEqual([...toDown].sort());
          expect(busy.requests.length).toBe(seenBusy);
          await expect.poll(text(page, 'dead-letter-count'), poll).toBe('2');

          // One letter of the other group: listed, looked up, replayed after its confirmation.
          const [first] = toBusy as [string];
          await page.getByTestId('group-show').click();
          const rows = page.getByTestId('dead-letter-row');
          await expect.poll(() => rows.count(), poll).toBe(2);
          await page.getByTestId('lookup-input').fill(first);
          await page.getByTestId('lookup-submit').click();
          const timeline = page.getByTestId('timeline');
          await expect
            .poll(() => timeline.locator('[data-kind="decided"]').textContent(), poll)
            .toContain('Decided: allowed');
          expect(await timeline.locator('[data-kind="attempt"]').count()).toBe(2);
          expect(await timeline.locator('[data-kind="dead_lettered"]').count()).toBe(1);
          expect(await page.content()).not.toContain(TOKENS.allowed);

          busy.script = ok;
          const row = page.locator(`tr[data-request-id="${first}"]`);
          await row.getByTestId('replay-button').click();
          await expect.poll(text(page, 'confirm-text'), poll).toContain(first);
          await page.getByTestId('confirm-replay').click();
          await waitFor(
            () => busy.requests.slice(seenBusy).some((r) => r.headers['webhook-id'] === first),
            { timeoutMs: 15_000, message: 'the replayed webhook at the receiver' },
          );
          await expect.poll(() => row.count(), poll).toBe(0);
          await expect.poll(text(page, 'dead-letter-count'), poll).toBe('1');

          if (UPDATE_SCREENSHOT) await takeScreenshot(page, service.url, healthy.url, busy);
          expect(pageErrors).toEqual([]);
          await page.close();
        } finally {
          await healthy.close();
          await busy.close();
        }
      },
    );
  });
});

/** How long the screenshot's traffic runs: the charts then show a few minutes of it. */
const SCREENSHOT_TRAFFIC_MS = 180_000;

/**
 * Three minutes of mixed traffic whose rate rises and falls, some of it to a receiver that fails
 * (retries, dead letters), before the screenshot of docs/operations.md is taken.
 */
async function takeScreenshot(
  page: Page,
  url: string,
  healthyUrl: string,
  failing: ScriptedServer,
): Promise<void> {
  failing.script = (_request, index) => ({ status: index % 3 === 0 ? 200 : 503 });
  const tokens = Object.values(TOKENS);
  const weights = [0, 0, 0, 0, 0, 1, 1, 2, 3];
  const end = Date.now() + SCREENSHOT_TRAFFIC_MS;
  let latest = '';
  for (let tick = 0; Date.now() < end; tick += 1) {
    const burst = 2 + Math.round(4 * (1 + Math.sin(tick / 60)));
    const sent = Array.from({ length: burst }, (_, i) => {
      const token = tokens[weights[(tick * 7 + i) % weights.length] ?? 0] ?? TOKENS.allowed;
      const target = (tick + i) % 9 === 0 ? failing.url : healthyUrl;
      return startSession(url, startBody({ driver_token: token }, `${target}/hooks`));
    });
    latest = (await Promise.all(sent))[0] ?? latest;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.getByTestId('range-15m').click();
  await expect
    .poll(async () => (await page.getByTestId('history-note').textContent()) ?? '', {
      timeout: 15_000,
    })
    .toContain('last 15 minutes');
  await page.getByTestId('lookup-input').fill(latest);
  await page.getByTestId('lookup-submit').click();
  await page.locator('[data-kind="decided"]').waitFor({ timeout: 15_000 });
  // The next history refresh includes the last seconds of traffic.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
}
