import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers/service.js';
import type { Mode } from './cluster.js';
import { onlyFromEnv, profileFromEnv, seedFromEnv } from './profile.js';
import { formatReport } from './report.js';
import { runMode } from './run.js';
import { FAULTS } from './plan.js';

/** Per mode on a two-core machine: the ci profile takes two to four minutes, the full one
 * about ten to fifteen. */
const TIMEOUT_MS = { ci: 480_000, full: 1_800_000 };

/**
 * Registers one mode's fault run as a vitest test. The run directory (every process's log, the
 * data files, `report.json`) is removed after a clean run and kept after a failing one, or
 * always with `FAULTS_KEEP=1`.
 */
export function faultSuite(mode: Mode, available: boolean): void {
  const profile = profileFromEnv();
  const seed = seedFromEnv();
  const only = onlyFromEnv();
  const faults = only === undefined ? undefined : FAULTS[mode].filter((f) => only.includes(f));
  describe.skipIf(!available)(
    `${mode} mode under crash, restart, outage, pause, network and shutdown faults`,
    () => {
      it(
        `acknowledges nothing it then loses, calls back nothing it did not acknowledge, leaks no token (${profile.name} profile)`,
        async () => {
          const dir = tempDir(`chargegate-faults-${mode}-`);
          const report = await runMode(
            mode,
            profile,
            seed,
            dir.path,
            (line) => console.info(line),
            faults === undefined ? {} : { faults },
          );
          console.info(formatReport(report));
          const clean = report.violations.length === 0;
          if (clean && process.env['FAULTS_KEEP'] !== '1') dir.remove();
          else console.info(`run directory kept: ${dir.path}`);
          // A service that refused everything would lose nothing: most of the load must have
          // been acknowledged (503s during outages and bad input excepted) and called back.
          expect(report.check.acknowledged).toBeGreaterThan(report.check.sent / 2);
          expect(report.check.callbacks).toBeGreaterThanOrEqual(report.check.acknowledged);
          expect(report.check.lost).toBe(0);
          expect(report.check.unexpected).toBe(0);
          expect(report.violations).toEqual([]);
        },
        TIMEOUT_MS[profile.name],
      );
    },
  );
}
