import { join, resolve } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import type { TokenHasher } from '../lib/token-hash.js';
import { FILES } from '../wiring/adapters.js';
import { listenUrl } from '../lib/listen-url.js';
import { createAuthService } from './service.js';
import { seedAcl } from './acl.js';
import { bundledAclPath, loadAclFile } from './acl-file.js';
import { createSqliteAclStore } from './acl-sqlite.js';
import { createPostgresAclStore } from './acl-postgres.js';

/**
 * Wires the reference authorization service: its ACL store (SQLite embedded, PostgreSQL in
 * distributed mode), seeded from ACL_FILE, behind the authorize endpoint and the admin API.
 * Returns its URL and the stop steps, to run in reverse order.
 */
export async function startAuthServiceRole(
  config: Config,
  deps: { hasher: TokenHasher; logger: FastifyBaseLogger },
): Promise<{ url: string; closers: (() => Promise<void>)[] }> {
  const { hasher, logger } = deps;
  const closers: (() => Promise<void>)[] = [];
  const aclPath = config.auth.aclFile ?? bundledAclPath();
  // The file is validated at every start, but imported only into an empty store, so that
  // changes made through the admin API survive restarts.
  const aclEntries = await loadAclFile(aclPath, hasher);
  const aclDb = join(resolve(config.dataDir), FILES.acl);
  // Distributed mode keeps the ACL in PostgreSQL, so every auth-service process shares it.
  const acl =
    config.databaseUrl === undefined
      ? createSqliteAclStore({ file: aclDb, synchronous: config.sqliteSynchronous })
      : await createPostgresAclStore({ url: config.databaseUrl, schema: config.databaseSchema });
  // Pushed first, so it closes after the service that reads it.
  closers.push(() => acl.close());
  try {
    const seeded = await seedAcl(acl, aclEntries);
    const service = createAuthService({
      acl,
      hasher,
      logger: logger.child({ role: 'auth-service' }),
      adminToken: config.aclAdminToken,
      ...(config.auth.ocpi.token === undefined ? {} : { ocpiToken: config.auth.ocpi.token }),
    });
    await service.listen({ port: config.auth.servicePort, host: config.auth.serviceHost });
    closers.push(() => service.close());
    const url = listenUrl(service);
    logger.info(
      {
        url,
        acl_file: aclPath,
        acl_db: config.databaseUrl === undefined ? aclDb : 'postgresql',
        acl_seeded: seeded,
        ocpi: config.auth.ocpi.token !== undefined,
      },
      'reference authorization service listening',
    );
    return { url, closers };
  } catch (error) {
    await acl.close();
    throw error;
  }
}
