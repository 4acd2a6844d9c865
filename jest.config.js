/** Unit, integration and end-to-end suites on the real PostgreSQL and Redis; see test/helpers/global-setup.mjs. */
/**
 * ESM-only packages that CommonJS dependencies require(). Node 20.19+ loads them natively
 * (require(esm)); Jest's module runtime only does from Node 24.9, so Jest compiles them.
 */
const ESM_REQUIRED_FROM_CJS = ['@apidevtools/json-schema-ref-parser'];

const swcEcmascript = ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2023' } }];

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

export default {
  testEnvironment: '<rootDir>/test/helpers/jest-environment.mjs',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': swc,
    [`/node_modules/(${ESM_REQUIRED_FROM_CJS.join('|')})/.+\\.js$`]: swcEcmascript,
  },
  // Nested too: `openapi-backend/node_modules/@apidevtools/json-schema-ref-parser`.
  transformIgnorePatterns: [`/node_modules/(?!(.+/node_modules/)?(${ESM_REQUIRED_FROM_CJS.join('|')})/)`],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // The fault suite restarts dependencies: it runs on its own (`npm run test:faults`).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  globalSetup: '<rootDir>/test/helpers/global-setup.mjs',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.mjs',
  testTimeout: 30000,
  maxWorkers: 2,
  // A worker told to end calls process.exit() (test/helpers/jest-environment.mjs), but on a
  // busy machine even that can take more than Jest's default half second for a worker that
  // holds gigabytes; Jest waits this long before it kills it and warns.
  workerGracefulExitTimeout: 5000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
