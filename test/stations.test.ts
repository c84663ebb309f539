import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { aclScript, startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir } from './helpers/service.js';
import { call, getSession, startSession } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import {
  DATABASE_URL,
  REDIS_URL,
  distributedSettings,
  postgresAvailable,
  redisAvailable,
} from './helpers/servers.js';

const haveServers = (await redisAvailable()) && (await postgresAvailable());
const ADMIN = 'admin-token-for-stations-012345';
const HOUR = 3_600_000;
const HOLDER = 'DRIVER-HOLDER-0001-abcdefgh';
const OTHER = 'DRIVER-OTHERS-0002-abcdefgh';
const DEMO_OUT_OF_ORDER = '7d3e9a1b-2c4f-4e8a-b6d0-5f1e2a3b4c5d';
const DEMO_AVAILABLE = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';
const CHROMIUM = '/usr/bin/chromium';
const operator = { authorization: `Bearer ${ADMIN}` };

function stationBody(overrides: Record<string, unknown> = {}, points = 1) {
  return {
    name: 'Test station',
    location: { lat: 52.52, lon: 13.405 },
    address: { street: 'Street 1', city: 'Berlin', postal_code: '10178', country: 'DE' },
    charging_points: Array.from({ length: points }, (_, i) => ({
      id: `P${i}`,
      connector_type: 'CCS2',
      max_power_kw: 150,
    })),
    ...overrides,
  };
}

const modes = [
  { mode: 'embedded', skip: false },
  { mode: 'distributed', skip: !haveServers },
] as const;

for (const { mode, skip } of modes) {
  describe.skipIf(skip)(`stations and reservations (${mode})`, () => {
    let auth: ScriptedServer;
    let receiver: ScriptedServer;
    const cleanups: (() => Promise<void>)[] = [];

    beforeEach(async () => {
      auth = await startScriptedServer(
        aclScript({
          [HOLDER]: { status: 'allowed', reason: 'active' },
          [OTHER]: { status: 'allowed', reason: 'active' },
        }),
      );
      receiver = await startScriptedServer(() => ({ status: 204 }));
    });

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      await auth.close();
      await receiver.close();
    });

    /** A whole service (its own data dir, or key prefix and schema) with `extra` env. */
    async function start(extra: Record<string, string> = {}) {
      const dir = tempDir();
      let env: Record<string, string> = {
        ...baseEnv(dir.path),
        ADMIN_TOKEN: ADMIN,
        AUTH_SERVICE_URL: `${auth.url}/authorize`,
        ...extra,
      };
      cleanups.push(() => Promise.resolve(dir.remove()));
      if (mode === 'distributed') {
        const settings = distributedSettings();
        env = { ...env, REDIS_URL, DATABASE_URL, ...settings.env };
        cleanups.push(() => settings.cleanup());
      }
      const service = await spawnService('start', env);
      cleanups.push(async () => void (await service.stop('SIGKILL')));
      return { service, env };
    }

    async function addStation(url: string, body: object = stationBody()): Promise<string> {
      const id = randomUUID();
      const put = await call(url, 'PUT', `/api/v1/stations/${id}`, { body, headers: operator });
      expect(put.status, put.text).toBe(201);
      return id;
    }

    async function decided(url: string, stationId: string, token: string) {
      const id = await startSession(url, {
        station_id: stationId,
        driver_token: token,
        callback_url: `${receiver.url}/cb`,
      });
      return waitFor(async () => {
        const s = await getSession(url, id);
        return s['decision'] !== 'pending' && s;
      });
    }

    const reserve = (url: string, body: object) =>
      call(url, 'POST', '/api/v1/reservations', { body });

    it('refuses a start at an out-of-order station without asking the service', async () => {
      const { service } = await start();
      const id = await addStation(service.url, stationBody({ status: 'out_of_order' }));
      const asked = auth.requests.length;
      const refused = await decided(service.url, id, HOLDER);
      expect(refused).toMatchObject({
        decision: 'not_allowed',
        reason: 'station_out_of_order',
        decided_by: 'station_catalog',
      });
      expect(auth.requests.length).toBe(asked);
      await waitFor(() => receiver.requests.length === 1);
      expect(JSON.parse(receiver.requests[0]!.body)).toMatchObject({ status: 'not_allowed' });

      // The CSMS reports the repair: the next start is asked about as before.
      const repaired = await call(service.url, 'PUT', `/api/v1/stations/${id}/status`, {
        body: { status: 'available' },
        headers: operator,
      });
      expect(repaired.status, repaired.text).toBe(200);
      expect(await decided(service.url, id, HOLDER)).toMatchObject({
        decision: 'allowed',
        decided_by: 'authorization_service',
      });
      expect(auth.requests.length).toBe(asked + 1);
      // Writes need ADMIN_TOKEN.
      const anonymous = await call(service.url, 'PUT', `/api/v1/stations/${id}/status`, {
        body: { status: 'out_of_order' },
      });
      expect(anonymous.status).toBe(401);
    });

    it('refuses other drivers at a fully reserved station and lets the holder through', async () => {
      const { service } = await start();
      const id = await addStation(service.url, stationBody({}, 1));
      const now = Date.now();
      const made = await reserve(service.url, {
        station_id: id,
        driver_token: HOLDER,
        starts_at: new Date(now - 60_000).toISOString(),
        ends_at: new Date(now + HOUR).toISOString(),
      });
      expect(made.status, made.text).toBe(201);
      const reservation = made.json();
      const read = await call(
        service.url,
        'GET',
        `/api/v1/reservations/${reservation['id'] as string}`,
      );
      expect(read.json()).toMatchObject({ station_id: id, status: 'active' });
      expect(read.text).not.toContain(HOLDER);

      const asked = auth.requests.length;
      expect(await decided(service.url, id, OTHER)).toMatchObject({
        decision: 'not_allowed',
        reason: 'reserved',
        decided_by: 'station_catalog',
      });
      expect(auth.requests.length).toBe(asked);
      expect(await decided(service.url, id, HOLDER)).toMatchObject({
        decision: 'allowed',
        decided_by: 'authorization_service',
      });
      expect(auth.requests.length).toBe(asked + 1);

      // Cancelled, the charging point is free for anyone.
      const cancelled = await call(
        service.url,
        'DELETE',
        `/api/v1/reservations/${reservation['id'] as string}`,
      );
      expect(cancelled.json()).toMatchObject({ status: 'cancelled' });
      expect(await decided(service.url, id, OTHER)).toMatchObject({ decision: 'allowed' });
    });

    it('decides unknown stations as before, and invalid in strict mode', async () => {
      const { service } = await start();
      const unknown = randomUUID();
      expect(await decided(service.url, unknown, HOLDER)).toMatchObject({
        decision: 'allowed',
        decided_by: 'authorization_service',
      });
      const strict = await start({ STATION_CATALOG_STRICT: 'true' });
      const asked = auth.requests.length;
      expect(await decided(strict.service.url, unknown, HOLDER)).toMatchObject({
        decision: 'invalid',
        reason: 'unknown_station',
        decided_by: 'station_catalog',
      });
      expect(auth.requests.length).toBe(asked);
    });

    it('answers 409 to reservations beyond capacity, also made at once from two API processes', async () => {
      const { service, env } = await start();
      const id = await addStation(service.url, stationBody({}, 2));
      const startsAt = Date.now() + HOUR;
      const window = (from: number, to: number, token = HOLDER) => ({
        station_id: id,
        driver_token: token,
        starts_at: new Date(startsAt + from * 60_000).toISOString(),
        ends_at: new Date(startsAt + to * 60_000).toISOString(),
      });
      expect((await reserve(service.url, window(0, 60))).status).toBe(201);
      expect((await reserve(service.url, window(30, 90))).status).toBe(201);
      const full = await reserve(service.url, window(45, 50, OTHER));
      expect(full.status).toBe(409);
      expect(full.json()).toMatchObject({ code: 'RESERVATION_FULL' });
      expect((await reserve(service.url, window(90, 120))).status).toBe(201);

      // A second API process on the same stores: ten bookings of one later window at once.
      const second = await spawnService('api', env);
      cleanups.push(async () => void (await second.stop('SIGKILL')));
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          reserve(i % 2 === 0 ? service.url : second.url, window(200, 260, OTHER)),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([201, 201, 409, 409, 409, 409, 409, 409, 409, 409]);

      // Too long and too far ahead are refused with the field named.
      const tooLong = await reserve(service.url, window(300, 300 + 5 * 60));
      expect(tooLong.status).toBe(400);
      expect(tooLong.json()).toMatchObject({ errors: [{ field: 'ends_at' }] });
    });

    it('lists stations nearest first within the radius', async () => {
      const { service } = await start();
      const at = (lat: number, lon: number) =>
        addStation(service.url, stationBody({ location: { lat, lon } }));
      const far = await at(10.05, 20.0); // about 5.6 km north
      const near = await at(10.01, 20.0); // about 1.1 km north
      const outside = await at(10.5, 20.0); // about 56 km north
      const middle = await at(10.0, 20.03); // about 3.3 km east
      const answer = await call(service.url, 'GET', '/api/v1/stations?near=10,20&radius_km=10');
      expect(answer.status, answer.text).toBe(200);
      const items = answer.json()['items'] as { id: string; distance_km: number }[];
      expect(items.map((s) => s.id)).toEqual([near, middle, far]);
      expect(items.map((s) => s.id)).not.toContain(outside);
      expect(items[0]!.distance_km).toBeCloseTo(1.11, 1);
    });

    it.skipIf(mode === 'distributed')(
      'seeds the embedded demo with the example catalog',
      async () => {
        const { service } = await start();
        const broken = await call(service.url, 'GET', `/api/v1/stations/${DEMO_OUT_OF_ORDER}`);
        expect(broken.json()).toMatchObject({ status: 'out_of_order' });
        expect(await decided(service.url, DEMO_OUT_OF_ORDER, HOLDER)).toMatchObject({
          reason: 'station_out_of_order',
        });
        const list = await call(service.url, 'GET', `/api/v1/stations?status=available`);
        expect(list.json()['items']).toHaveLength(1);
      },
    );

    it.skipIf(mode !== 'embedded' || (!existsSync(CHROMIUM) && process.env['CI'] !== 'true'))(
      "shows the stations and today's reservations in the console, and sets a status",
      async () => {
        const { service } = await start();
        const now = Date.now();
        const made = await reserve(service.url, {
          station_id: DEMO_AVAILABLE,
          driver_token: HOLDER,
          starts_at: new Date(now).toISOString(),
          ends_at: new Date(now + 60_000).toISOString(),
        });
        expect(made.status, made.text).toBe(201);
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        });
        try {
          const page = await browser.newPage();
          await page.goto(`${service.url}/console`);
          await page.getByTestId('token-input').fill(ADMIN);
          await page.getByTestId('login-submit').click();
          const available = page.locator(
            `[data-testid="stations"] tr[data-station="${DEMO_AVAILABLE}"]`,
          );
          await available.waitFor({ timeout: 15_000 });
          const window = new Date(now).toISOString().slice(11, 16);
          expect(await available.textContent()).toContain(window);
          const broken = page.locator(`tr[data-station="${DEMO_OUT_OF_ORDER}"]`);
          expect(await broken.textContent()).toContain('out of order');
          await broken.getByTestId('station-status-button').click();
          await waitFor(async () => {
            const read = await call(service.url, 'GET', `/api/v1/stations/${DEMO_OUT_OF_ORDER}`);
            return read.json()['status'] === 'available';
          });
          await page
            .locator(`tr[data-station="${DEMO_OUT_OF_ORDER}"] >> text=Set out of order`)
            .waitFor({ timeout: 15_000 });
          expect(await page.content()).not.toContain(HOLDER);
        } finally {
          await browser.close();
        }
      },
      60_000,
    );
  });
}
