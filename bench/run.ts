import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { forkServer, type ForkedServer } from './children.js';
import { benchDecide, lostInDecide, type DecideResults } from './decide.js';
import type { Mode } from './deployments.js';
import { describeEnv, startDeployment, startPipeline } from './deployments.js';
import { createCallbackLog, requestBody, type AcceptRun } from './load.js';
import {
  decideTargets,
  evaluateTargets,
  resultsDocument,
  save,
  type ModeResults,
  type Target,
} from './report.js';
import {
  authorizeUrl,
  benchAccept,
  benchAcceptApiAlone,
  benchBaseline,
  benchEndToEnd,
  type Rig,
} from './scenarios.js';
import { loadSettings } from './settings.js';
import type { StubMessage } from './stubs.js';
import { decideLines, renderTable } from './table.js';

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
 * BENCH_DRAIN_STALL_SECONDS, BENCH_THROUGHPUT_SECONDS, BENCH_THROUGHPUT_CONNECTIONS,
 * BENCH_STEADY_SECONDS, BENCH_STEADY_RATES and BENCH_LOG_LEVEL override single settings
 * (settings.ts); BENCH_PROFILE_DIR=<dir> makes every service process write a CPU profile there.
 * BENCH_DECIDE_ONLY=1 runs the deciding scenarios only: the in-memory pipeline, then each mode.
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

async function decideOf(rig: Rig, label: string, start: () => ReturnType<typeof startPipeline>) {
  progress(
    `${label}: deciding (${settings.throughputSeconds} s closed loop, then ` +
      `${settings.steadyRates.join('/s, ')}/s for ${settings.steadySeconds} s each)`,
  );
  const result = await benchDecide(rig, await start());
  progress(
    `  ${Math.round(result.throughput.decisionsPerSec)} decisions/s; ` +
      result.steady
        .map(
          (s) =>
            `${s.rate}/s: p50 ${s.latency.p50Ms.toFixed(1)} p99 ${s.latency.p99Ms.toFixed(1)} ms`,
        )
        .join('; '),
  );
  return result;
}

const decideMode = (rig: Rig, mode: Mode) =>
  decideOf(rig, mode, () => startDeployment(mode, settings, authorizeUrl(rig)));

async function benchMode(rig: Rig, mode: Mode): Promise<Omit<ModeResults, 'decide'>> {
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

/** BENCH_DECIDE_ONLY: the pipeline and each mode's deciding scenarios, one table. */
async function decideOnly(rig: Rig, modes: Mode[]): Promise<number> {
  const startedAt = new Date();
  const pipeline = await decideOf(rig, 'pipeline', () =>
    startPipeline(authorizeUrl(rig), settings),
  );
  const byMode: Partial<Record<Mode, DecideResults>> = {};
  const targets: Target[] = [];
  const lines: string[] = [];
  for (const mode of modes) {
    const decide = await decideMode(rig, mode);
    byMode[mode] = decide;
    lines.push(...decideLines(mode, decide, pipeline), '');
    for (const t of decideTargets(mode, decide, pipeline)) {
      targets.push({ ...t, description: `${mode}: ${t.description}` });
    }
  }
  const document = {
    benchmark: 'chargegate-decide',
    mode: 'decide',
    startedAt: startedAt.toISOString(),
    settings: { ...settings, redisUrl: undefined, databaseUrl: undefined },
    pipeline,
    ...byMode,
    targets,
  };
  const path = save(document, settings.quick);
  lines.push(
    'Targets',
    ...targets.map(
      (t) => `  ${t.status.toUpperCase().padEnd(5)}${t.description.padEnd(62)}${t.measured}`,
    ),
    '',
    `Saved ${path}`,
  );
  process.stdout.write(`\n${lines.join('\n')}\n`);
  return [pipeline, ...Object.values(byMode)].reduce((a, d) => a + lostInDecide(d), 0);
}

async function main(): Promise<number> {
  const modes: Mode[] =
    settings.redisUrl && settings.databaseUrl ? ['embedded', 'distributed'] : ['embedded'];
  progress(`modes: ${modes.join(', ')}${settings.quick ? ' (quick run)' : ''}`);
  let lost = 0;
  await withStubs(async (rig) => {
    if (settings.decideOnly) {
      lost = await decideOnly(rig, modes);
      return;
    }
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
    const pipeline = await decideOf(rig, 'in-memory pipeline', () =>
      startPipeline(authorizeUrl(rig), settings),
    );
    for (const mode of modes) {
      const [startedAt, loadAverageAtStart] = [new Date(), loadavg()];
      const results = { ...(await benchMode(rig, mode)), decide: await decideMode(rig, mode) };
      const document = resultsDocument({
        settings,
        startedAt,
        loadAverageAtStart,
        env: describeEnv(mode, settings),
        baseline,
        durableFloor,
        results,
        pipeline,
        targets: evaluateTargets(settings, results, baseline, pipeline),
      });
      const path = save(document, settings.quick);
      process.stdout.write(`\n${renderTable(document, path)}\n`);
      lost += document.lost;
    }
    lost += lostInDecide(pipeline);
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
