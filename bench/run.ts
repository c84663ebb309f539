import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { forkServer, type ForkedServer } from './children.js';
import type { Mode } from './deployments.js';
import { describeEnv } from './deployments.js';
import { createCallbackLog, requestBody, type AcceptRun } from './load.js';
import { evaluateTargets, resultsDocument, save, type ModeResults } from './report.js';
import {
  benchAccept,
  benchAcceptApiAlone,
  benchBaseline,
  benchEndToEnd,
  type Rig,
} from './scenarios.js';
import { loadSettings } from './settings.js';
import type { StubMessage } from './stubs.js';
import { renderTable } from './table.js';

/**
 * `npm run bench`: the baseline and the durable floor (`baseline.ts`), then each mode's scenarios
 * (accept with the authorization service healthy, accept with it hanging, accept by the api
 * alone with nothing decided meanwhile, end to end), one at a time, each against a fresh
 * service. Prints a table per mode and saves bench/results/<ISO date>-<mode>.json. Exits 1 if
 * any acknowledged request never got its callback; missed targets are reported, not fatal.
 *
 * Distributed mode runs too when REDIS_URL and DATABASE_URL are set. BENCH_QUICK=1 makes every
 * window a few seconds. BENCH_CONNECTIONS, BENCH_ACCEPT_SECONDS, BENCH_WARMUP_SECONDS,
 * BENCH_E2E_SECONDS, BENCH_E2E_RATE, BENCH_E2E_CONNECTIONS, BENCH_DRAIN_TIMEOUT_SECONDS,
 * BENCH_DRAIN_STALL_SECONDS and BENCH_LOG_LEVEL override single settings (settings.ts);
 * BENCH_PROFILE_DIR=<dir> makes every service process write a CPU profile there.
 */
const settings = loadSettings(process.env);
const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function withStubs<T>(use: (rig: Rig) => Promise<T>): Promise<T> {
  const started: ForkedServer[] = [];
  try {
    const auth = await forkServer('auth stub', './stubs.js', ['auth']);
    started.push(auth);
    const receiver = await forkServer('callback receiver', './stubs.js', ['receiver']);
    started.push(receiver);
    const callbacks = createCallbackLog();
    receiver.onMessage((message: StubMessage) => {
      if (message.type === 'arrivals') callbacks.record(message.ids, message.times);
    });
    const body = requestBody(`${receiver.url}/hooks/charging`);
    return await use({ settings, auth, receiver, callbacks, body });
  } finally {
    for (const server of started) await server.stop();
  }
}

async function benchMode(rig: Rig, mode: Mode): Promise<ModeResults> {
  const done = (r: { run: AcceptRun; lost: number }) =>
    progress(
      `  ${Math.round(r.run.perSec)} req/s, p99 ${r.run.latency.p99Ms.toFixed(2)} ms, lost ${r.lost}`,
    );
  progress(`${mode}: accept, auth healthy (${settings.acceptSeconds} s)`);
  const accept = await benchAccept(rig, mode, false);
  done(accept);
  progress(`${mode}: accept, auth hanging (${settings.acceptSeconds} s)`);
  const acceptAuthHanging = await benchAccept(rig, mode, true);
  done(acceptAuthHanging);
  progress(`${mode}: accept, api alone, nothing decided meanwhile (${settings.acceptSeconds} s)`);
  const acceptApiAlone = await benchAcceptApiAlone(rig, mode);
  done(acceptApiAlone);
  progress(`${mode}: end to end (${settings.e2eSeconds} s at ${settings.e2eRate}/s)`);
  const endToEnd = await benchEndToEnd(rig, mode);
  progress(
    `  ${Math.round(endToEnd.duringLoadPerSec)} decisions/s during the load, ` +
      `p99 ${endToEnd.latency.p99Ms.toFixed(2)} ms, lost ${endToEnd.lost}`,
  );
  return { mode, accept, acceptAuthHanging, acceptApiAlone, endToEnd };
}

async function main(): Promise<number> {
  const modes: Mode[] =
    settings.redisUrl && settings.databaseUrl ? ['embedded', 'distributed'] : ['embedded'];
  progress(`modes: ${modes.join(', ')}${settings.quick ? ' (quick run)' : ''}`);
  let lost = 0;
  await withStubs(async (rig) => {
    const reference = async (variant: 'bare' | 'durable', label: string) => {
      progress(`${label} (${settings.acceptSeconds} s)`);
      // The floor's database is made and removed here: the server is stopped by a signal.
      const dir = mkdtempSync(join(tmpdir(), 'chargegate-bench-floor-'));
      const removeDir = () => rmSync(dir, { recursive: true, force: true });
      process.on('exit', removeDir);
      const server = await forkServer(label, './baseline.js', [variant, dir]);
      return benchBaseline(rig, server, label).finally(async () => {
        await server.stop();
        removeDir();
      });
    };
    const baseline = await reference('bare', 'baseline (bare Fastify)');
    const durableFloor = await reference('durable', 'durable floor (Fastify + 1 insert)');
    for (const mode of modes) {
      const [startedAt, loadAverageAtStart] = [new Date(), loadavg()];
      const results = await benchMode(rig, mode);
      const document = resultsDocument({
        settings,
        startedAt,
        loadAverageAtStart,
        env: describeEnv(mode, settings),
        baseline,
        durableFloor,
        results,
        targets: evaluateTargets(settings, results, baseline),
      });
      const path = save(document, settings.quick);
      process.stdout.write(`\n${renderTable(document, path)}\n`);
      lost += document.lost;
    }
  });
  if (lost > 0) progress(`${lost} acknowledged requests got no callback`);
  return lost > 0 ? 1 : 0;
}

// Interrupted: exiting runs children.ts's exit hook, which kills every process started here.
// (A distributed run's cgbench-* Redis keys and schema are then left for a manual clean-up.)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
