import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call } from './helpers/client.js';

/** The operations kit: the alert rules and the dashboard, which name metrics by hand. */
const KIT = ['deploy/prometheus/alerts.yaml', 'deploy/grafana/chargegate.json'];
/** What Prometheus derives from one histogram: its series carry these suffixes. */
const HISTOGRAM_SERIES = /^(.+)_(bucket|sum|count)$/;

function metricsUsedBy(path: string): string[] {
  const text = readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8');
  return [...new Set(text.match(/\bchargegate_[a-z0-9_]+/g) ?? [])].sort();
}

/** Metric names and types from `# TYPE` lines of a Prometheus exposition. */
function exposedTypes(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    types.set(match[1] ?? '', match[2] ?? '');
  }
  return types;
}

function isExposed(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const base = HISTOGRAM_SERIES.exec(name)?.[1];
  return base !== undefined && types.get(base) === 'histogram';
}

describe('the alert rules and the dashboard use only metrics that /metrics exposes', () => {
  const dir = tempDir();
  let service: ServiceProcess;
  let types: Map<string, string>;

  beforeAll(async () => {
    // `start` serves every metric: its API's, and its worker threads' merged in.
    service = await spawnService('start', baseEnv(dir.path));
    const answer = await call(service.url, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    types = exposedTypes(answer.text);
  });

  afterAll(async () => {
    await service?.stop();
    dir.remove();
  });

  it.each(KIT)('%s', (path) => {
    const used = metricsUsedBy(path);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !isExposed(name, types))).toEqual([]);
  });

  it('fails for a name the service does not expose', () => {
    expect(isExposed('chargegate_queue_depth', types)).toBe(true);
    expect(isExposed('chargegate_authorization_duration_seconds_bucket', types)).toBe(true);
    expect(isExposed('chargegate_queue_length', types)).toBe(false);
    expect(isExposed('chargegate_queue_depth_bucket', types)).toBe(false);
  });
});
