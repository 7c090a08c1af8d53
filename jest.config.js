/** @type {import('jest').Config} */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2023',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

/** what every project shares: TypeScript through swc, the lib path aliases */
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest', swc] },
  // ESM-only dependencies are transpiled to CommonJS for Jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!(jose|@seriousme/openapi-schema-validator)/)'],
  // same aliases as tsconfig.json `paths`: test helpers first, then each lib's entry point
  moduleNameMapper: {
    '^@switchboard/([^/]+)/testing$': '<rootDir>/libs/$1/src/testing/index.ts',
    '^@switchboard/([^/]+)$': '<rootDir>/libs/$1/src/index.ts',
  },
};

/**
 * Specs of apps/ and libs/ that need the local PostgreSQL (127.0.0.1:5432), Redis
 * (127.0.0.1:6379) or an embedded PGlite database. Every other `*.spec.ts` there is a
 * unit test and runs without any service. A new spec that creates a database or
 * connects to Redis belongs in this list.
 */
const INTEGRATION_SPECS = [
  'libs/rate-limit/src/admission/limits-version.spec.ts',
  'libs/rate-limit/src/admission/request-claims.spec.ts',
  'libs/billing/src/spend-control.spec.ts',
  'libs/assistants/src/user-defined/user-defined.assistant.spec.ts',
  'libs/auth/src/identity/account.service.spec.ts',
  'libs/auth/src/identity/api-key.service.spec.ts',
  'libs/auth/src/identity/identity.module.spec.ts',
  'libs/billing/src/billing.module.spec.ts',
  'libs/billing/src/budget-eviction.spec.ts',
  'libs/billing/src/budget-rebuild.spec.ts',
  'libs/billing/src/budget-seeder.spec.ts',
  'libs/billing/src/budget-store.contract.spec.ts',
  'libs/billing/src/redis-admission.spec.ts',
  'libs/billing/src/redis-budget.store.spec.ts',
  'libs/billing/src/usage-ledger.spec.ts',
  'libs/conversations/src/conversation.service.spec.ts',
  'libs/datasources/src/external/external-source.service.spec.ts',
  'libs/datasources/src/files/files.service.spec.ts',
  'libs/datasources/src/jobs/job-crash.spec.ts',
  'libs/datasources/src/jobs/job-queue.spec.ts',
  'libs/rag/src/rag.integration.spec.ts',
  'libs/rag/src/rag.module.spec.ts',
  'libs/rag/src/rag.postgres.spec.ts',
  'libs/rate-limit/src/redis-limit.store.spec.ts',
  'libs/responses/src/stored-responses.spec.ts',
  'libs/storage/src/database.adapters.spec.ts',
  'libs/storage/src/migrator.spec.ts',
  'libs/storage/src/postgres-connection-state.spec.ts',
  'libs/storage/src/redis.connection.spec.ts',
  'libs/storage/src/storage.module.spec.ts',
];

/** checks that PostgreSQL and Redis answer before any spec that needs them runs */
const servicesCheck = '<rootDir>/test/jest/require-services.mjs';

/**
 * `npm test` runs every project; one of them: `npx jest --selectProjects unit`.
 * Only the integration and e2e projects need PostgreSQL and Redis.
 */
module.exports = {
  testTimeout: 30000,
  // Every suite passes, but a handle left open by one of them keeps Jest from exiting;
  // until it is found (`npx jest --detectOpenHandles`), end the run when the tests end.
  forceExit: process.env.JEST_NO_FORCE_EXIT ? false : true,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  projects: [
    {
      ...base,
      displayName: 'unit',
      roots: ['<rootDir>/apps', '<rootDir>/libs'],
      testMatch: ['**/*.spec.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        ...INTEGRATION_SPECS.map((p) => `<rootDir>/${p}$`),
      ],
    },
    {
      ...base,
      displayName: 'integration',
      roots: ['<rootDir>/apps', '<rootDir>/libs'],
      testMatch: INTEGRATION_SPECS.map((p) => `<rootDir>/${p}`),
      globalSetup: servicesCheck,
    },
    {
      ...base,
      displayName: 'e2e',
      roots: ['<rootDir>/apps'],
      testMatch: ['**/*.e2e-spec.ts'],
      globalSetup: servicesCheck,
      setupFilesAfterEnv: ['<rootDir>/test/jest/e2e-timeout.ts'],
    },
    {
      // the Pulumi program under runtime mocks, the ops scripts and the production image
      ...base,
      displayName: 'infra',
      roots: ['<rootDir>/pulumi', '<rootDir>/test/infra'],
      testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
    },
  ],
};
