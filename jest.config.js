// ESM TypeScript under jest 30 + ts-jest 29 (see DESIGN.md section 7).
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { useESM: true }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/integration/'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/__tests__/integration/**/*.test.ts'],
      // installs the pinned Go tools (registries, crane) before any suite: scripts/support/go-tools.ts
      globalSetup: '<rootDir>/__tests__/integration/global-setup.mjs',
      testTimeout: 120000,
    },
  ],
  testTimeout: 30000,
};
