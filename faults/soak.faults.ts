import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers/service.js';
import { profileFromEnv } from './profile.js';
import { formatSoak, runSoak } from './soak-run.js';
import { SOAK_PROFILES } from './soak.js';

const profile = profileFromEnv();
const soak = SOAK_PROFILES[profile.name];

describe('start mode under a long steady load', () => {
  it(
    `keeps memory, event-loop delay and queue depth flat at half its capacity (${profile.name} profile, ${soak.soakMs / 1000} s)`,
    async () => {
      const dir = tempDir('chargegate-soak-');
      const report = await runSoak(soak, dir.path, (line) => console.info(line));
      console.info(formatSoak(report));
      const clean = report.check.violations.length === 0 && report.tokensInLogs === 0;
      if (clean && process.env['FAULTS_KEEP'] !== '1') dir.remove();
      else console.info(`run directory kept: ${dir.path}`);
      expect(report.samples.length).toBeGreaterThanOrEqual(soak.windowMs / soak.sampleMs);
      expect(report.check.lost).toBe(0);
      expect(report.check.unexpected).toBe(0);
      expect(report.check.violations).toEqual([]);
      expect(report.tokensInLogs).toBe(0);
      expect(report.exitCode).toBe(0);
      expect(report.growth.rss).toBeLessThan(soak.maxGrowth.rss);
      expect(report.growth.loopP99).toBeLessThan(soak.maxGrowth.loopP99);
      expect(report.growth.queueDepth).toBeLessThan(soak.maxGrowth.queueDepth);
    },
    soak.capacityMs + soak.soakMs + 600_000,
  );
});
