import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): separate from `npm test`, whose config includes
 * only `test/**\/*.test.ts`. The two modes run one after the other: each spawns several
 * processes and measures timings that a parallel run on two cores would distort.
 */
export default defineConfig({
  test: {
    include: ['faults/**/*.faults.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 900_000,
    hookTimeout: 60_000,
  },
});
