import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layerConfigs } from './scripts/lint/layers.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // src/ imports only downward (action, cli > request > engine > sources > registry > oci > base),
  // and only src/action/ uses @actions/*, only src/registry/transport/wire.ts undici: scripts/lint/layers.mjs
  ...layerConfigs(),
);
