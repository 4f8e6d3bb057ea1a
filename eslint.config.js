// Lint: type-aware rules (no floating promises) and the one-way layering of docs/architecture.md:
//   core ← repo/backend ← repo ← sources ← jobs ← replication ← dr ← daemon ← cli
//   (discovery stands beside, on core; config reads into the types of repo, sources and discovery)
// A layer may import only layers to its left (checked on resolved paths), another module only through
// its index.ts, and no two files may import each other, directly or round a loop.
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** What each layer may NOT import (folders under src/). */
const forbidden = {
  core: ['repo', 'sources', 'jobs', 'replication', 'dr', 'discovery', 'config', 'daemon', 'cli'],
  'repo/backend': ['repo', 'sources', 'jobs', 'replication', 'dr', 'discovery', 'config', 'daemon', 'cli'],
  repo: ['sources', 'jobs', 'replication', 'dr', 'discovery', 'config', 'daemon', 'cli'],
  sources: ['jobs', 'replication', 'dr', 'discovery', 'config', 'daemon', 'cli'],
  discovery: ['repo', 'sources', 'jobs', 'replication', 'dr', 'config', 'daemon', 'cli'],
  // config reads lifeboat.yaml into the types of the modules it configures (discovery, retention, sources).
  config: ['jobs', 'replication', 'dr', 'daemon', 'cli'],
  jobs: ['replication', 'dr', 'daemon', 'cli'],
  replication: ['dr', 'daemon', 'cli'],
  dr: ['daemon', 'cli'],
  daemon: ['cli'],
};

const zones = Object.entries(forbidden).flatMap(([layer, banned]) =>
  banned.map((from) => ({
    target: `./src/${layer}`,
    from: `./src/${from}`,
    ...(layer === 'repo/backend' && from === 'repo' ? { except: ['./backend'] } : {}),
    message: `${layer} must not import ${from}: layers import one way (docs/architecture.md).`,
  })),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/work/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // A function or object in a message (`${indexed.length}` once a list became a table) prints its source.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowAny: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
      // no-cycle parses the files it follows: .ts needs the TypeScript parser.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Reaching into another module's files instead of its index.ts. One exception: repo/kdf.ts, the light
      // entry the CLI imports first to start key derivation before the rest loads (src/cli/prewarm.ts).
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(?!repo/kdf\\.ts$)(core|repo|repo/backend|sources/[a-z]+|jobs|replication|dr|discovery|config|daemon)/(?!index\\.ts$)[a-z-]+\\.ts$',
              message: 'import another module through its index.ts only.',
            },
          ],
        },
      ],
    },
  },
);
