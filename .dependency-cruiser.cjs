/**
 * The layering of src/ (docs/architecture.md, "Which folder may import which"), checked by
 * `npm run lint`. Each folder names the folders it may import; anything else is an error.
 * The entry points in src/ itself (cli.ts, main.ts, the CLIs) may import every folder, and no
 * folder imports them.
 */
const LAYERS = {
  lib: [],
  contract: ['lib'],
  config: ['lib', 'contract'],
  http: ['lib', 'contract'],
  store: ['lib', 'contract'],
  queue: ['lib', 'store'],
  stations: ['lib', 'store'],
  clients: ['lib', 'contract', 'store'],
  authorization: ['lib', 'contract', 'store'],
  callbacks: ['lib', 'contract', 'store', 'queue'],
  wiring: ['lib', 'contract', 'config', 'store', 'queue', 'stations', 'clients', 'callbacks'],
  api: ['lib', 'contract', 'config', 'http', 'store', 'queue', 'stations', 'clients', 'callbacks'],
  worker: [
    'lib',
    'contract',
    'config',
    'http',
    'store',
    'queue',
    'stations',
    'clients',
    'callbacks',
    'authorization',
    'wiring',
  ],
  'acl-service': ['lib', 'contract', 'config', 'http', 'wiring'],
};

/** The files that talk to a database or Redis; everything else reaches them through a port. */
const ADAPTERS =
  '^src/(queue/(sqlite|redis|redis-scripts)|store/(sqlite|postgres)|clients/(sqlite|postgres)|stations/(sqlite|postgres))[.]ts$';
const DRIVER_USERS = `${ADAPTERS}|^src/acl-service/acl-(sqlite|postgres)[.]ts$|^src/lib/(sqlite|group-commit|pg-migrations|rate-limit-redis)[.]ts$|^src/authorization/decision-cache-redis[.]ts$`;

const layerRules = Object.entries(LAYERS).map(([folder, allowed]) => ({
  name: `layer-${folder}`,
  comment: `src/${folder}/ may import only ${allowed.length === 0 ? 'itself' : allowed.map((a) => `${a}/`).join(', ')}`,
  severity: 'error',
  from: { path: `^src/${folder}/` },
  to: {
    path: '^src/',
    pathNot: `^src/(${[folder, ...allowed].join('|')})/`,
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-entry-point-imports',
      comment: 'the entry points in src/ import the folders, never the other way round',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/[^/]+[.]ts$' },
    },
    {
      name: 'no-circular',
      comment: 'a cycle makes two modules one; split what they share into a lower layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'drivers-in-adapters',
      comment: 'only adapter files import a database or Redis driver',
      severity: 'error',
      from: { path: '^src/', pathNot: DRIVER_USERS },
      to: { path: '^node_modules/(better-sqlite3|pg|ioredis)/' },
    },
    {
      name: 'adapters-through-wiring',
      comment: 'adapters are chosen in wiring/; the roles use the ports',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(wiring|store|queue|clients|stations)/' },
      to: { path: ADAPTERS },
    },
    {
      name: 'no-dev-dependencies',
      comment: 'the service runs from dist/ with the production dependencies alone',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
