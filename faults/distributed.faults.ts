import { postgresAvailable } from '../test/helpers/servers.js';
import { redisServerAvailable } from './redis.js';
import { faultSuite } from './suite.js';

/** The suite runs its own redis-server (never the machine's on 6379) and needs the binary. */
function redisBinary(): boolean {
  if (redisServerAvailable()) return true;
  if (process.env['CI'] === 'true') throw new Error('redis-server is not on PATH; CI=true');
  console.warn('SKIPPING distributed faults: redis-server is not on PATH');
  return false;
}

faultSuite('distributed', redisBinary() && (await postgresAvailable()));
