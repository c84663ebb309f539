import { defineConfig } from 'vitest/config';

/**
 * The deployment suite (`npm run test:containers`, `npm run test:package`): separate from
 * `npm test`, whose config includes only `test/**\/*.test.ts`. Its files build and run
 * containers and install the packed tarball, which take minutes and need root and podman
 * (test/deploy/run.sh sets those up); one file at a time, since each one loads both cores.
 */
export default defineConfig({
  test: {
    include: ['test/deploy/**/*.deploy.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
