import { postgresBinariesAvailable } from './postgres.js';
import { redisServerAvailable } from './redis.js';
import { faultSuite } from './suite.js';

/** The suite runs its own redis-server and PostgreSQL (never the machine's on 6379 and 5432)
 * and needs their binaries. */
function binaries(): boolean {
  const missing = [
    ...(redisServerAvailable() ? [] : ['redis-server is not on PATH']),
    ...(postgresBinariesAvailable() ? [] : ['no PostgreSQL binaries (FAULTS_PG_BIN)']),
  ];
  if (missing.length === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`${missing.join('; ')}; CI=true`);
  console.warn(`SKIPPING distributed faults: ${missing.join('; ')}`);
  return false;
}

faultSuite('distributed', binaries());
