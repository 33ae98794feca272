// Bundles the two entries (action and CLI) into dist/ as self-contained ESM files.
// undici and @actions/core include CommonJS that calls require(), hence the banner.
//
// Source-mapped (dist/*.js.map, with the sources inside), so a stack trace names src/ lines:
// src/base/stack.ts maps a stack through them when one is printed (Node's own source-map support,
// switched on at start, cost ~0.25 s of every action run).
//
// Lean on purpose (start-up is on every release's critical path; see BENCHMARKS.md):
// - of undici, only what src/ uses at run time: the Agent and the dispatcher API
//   (`dispatcher.request`). Its index also loads fetch, WebSocket, cookies, caches and mocks,
//   which cost more start-up time than the rest of the program.
// - undici's HTTP/2 client (and node:http2 with it) loaded only if a registry negotiates h2,
//   which undici never offers unless asked (allowH2): never, here (measured, and why: docs/performance.md).
// - no @actions/github: the run's repository, server and commit (github-annotations) are the
//   runner's GITHUB_* variables, read by src/action/github-context.ts when needed; its Context
//   read and parsed the whole event file at load.
// - @actions/core without its OIDC client (`core.getIDToken`, unused here), which is the
//   only user of @actions/http-client and a second copy of undici.
// - Node built-ins loaded with require(), also where ESM code imports them: an ESM import of a
//   built-in builds a facade that reads every export, and on Node 24 reading node:http's
//   exports loads Node's own copy of undici (for its lazy WebSocket and fetch globals).
// - whitespace and syntax minified; names kept, so stack traces stay readable.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const root = fileURLToPath(new URL('..', import.meta.url));
// where the bundles go: dist/, or (to try a build without touching the committed one) $MANIFEST_MERGE_DIST
const out = process.env.MANIFEST_MERGE_DIST ?? 'dist';

// V8 settings for a process that streams blobs, set before anything runs (see BENCHMARKS.md, (c)):
// - a young generation that does not grow: every socket read is a new 64 KiB buffer, garbage
//   as soon as it is forwarded; left to grow, the young generation is collected so rarely that
//   tens of MiB of spent buffers pile up (Node 24: 160 MiB peak RSS for two 512 MiB layers, 110
//   without growth), at no measurable cost in time;
// - undici's HTTP parser (WebAssembly) compiled by Liftoff only: optimising it costs ~20 MiB of
//   peak RSS and CPU at start-up, for no gain on registry traffic.
// Re-measured after the transport redesign (uploads stream with bounded buffers), bench (c),
// 2 platforms, median of 3, Node 20.20, this bundle with and without the flags:
//   1 MiB layers 59 vs 93 MiB peak RSS; 64 MiB 88 vs 106 MiB; 512 MiB 89 vs 103 MiB;
//   wall time within noise (512 MiB: 9.7 s vs 8.9 s, runs ranging ±1 s on a busy machine).
// Both stay under the 150 MB target; the flags still save 14-34 MiB, so they stay.
// Again for throughput (issue 21; scripts/bench/copy-lab.ts, one 512 MiB layer between two local registries, no
// latency, 5 runs interleaved, Node 24.21, load 2-3 on 2 cores): with the flags 2.73 s (2.52-3.01), 1.28 s of CPU,
// 99 MiB; without the semi-space flag 3.03 s (2.61-4.18), 1.58 s, 153 MiB; with llhttp left to TurboFan 2.92 s
// (2.07-4.01), 1.72 s, 111 MiB. No flag costs throughput; dropping either costs CPU, which the registries want.
// $MANIFEST_MERGE_V8_FLAGS replaces them in a trial build (scripts/bench/copy-lab.ts measures one against another).
const V8_FLAGS =
  process.env.MANIFEST_MERGE_V8_FLAGS ?? '--semi-space-growth-factor=1 --liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering';

const banner = {
  js:
    "import { createRequire as __mmCreateRequire } from 'node:module'; const require = __mmCreateRequire(import.meta.url);" +
    ` require('node:v8').setFlagsFromString(${JSON.stringify(V8_FLAGS)});`,
};

const UNDICI_SLIM = `'use strict'
const Dispatcher = require('undici/lib/dispatcher/dispatcher')
const Agent = require('undici/lib/dispatcher/agent')
Object.assign(Dispatcher.prototype, require('undici/lib/api'))
module.exports = { Agent, Dispatcher }
`;

const OIDC_STUB = `export class OidcClient {
  static async getIDToken() {
    throw new Error('manifest-merge does not bundle the OIDC client of @actions/core');
  }
}
`;

// Fail the build, not a run, if undici's layout changes under the shim.
{
  const require = createRequire(import.meta.url);
  const Dispatcher = require('undici/lib/dispatcher/dispatcher');
  const Agent = require('undici/lib/dispatcher/agent');
  const api = require('undici/lib/api');
  if (typeof Agent !== 'function' || typeof api.request !== 'function' || !(Agent.prototype instanceof Dispatcher)) {
    throw new Error('scripts/bundle.mjs: undici/lib/dispatcher/agent or undici/lib/api moved; update the undici shim');
  }
}

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** @type {import('esbuild').Plugin} */
const lean = {
  name: 'lean',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, (args) =>
      args.importer.includes('node_modules') ? undefined : { path: 'undici-slim', namespace: 'lean' },
    );
    b.onResolve({ filter: /^\.\/oidc-utils\.js$/ }, (args) =>
      args.importer.includes('@actions/core') ? { path: 'oidc-stub', namespace: 'lean' } : undefined,
    );
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
      args.importer.endsWith(join('undici', 'lib', 'dispatcher', 'client.js'))
        ? { path: 'undici-client-h2', namespace: 'lean', pluginData: dirname(args.importer) }
        : undefined,
    );
    b.onLoad({ filter: /^undici-client-h2$/, namespace: 'lean' }, (args) => ({
      contents: "module.exports = function connectH2(...args) { return require('./client-h2.js')(...args); };",
      loader: 'js',
      resolveDir: args.pluginData,
    }));
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) =>
      args.kind === 'import-statement' && BUILTINS.has(args.path)
        ? { path: args.path.replace(/^node:/, ''), namespace: 'builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /^undici-slim$/, namespace: 'lean' }, () => ({ contents: UNDICI_SLIM, loader: 'js', resolveDir: root }));
    b.onLoad({ filter: /^oidc-stub$/, namespace: 'lean' }, () => ({ contents: OIDC_STUB, loader: 'js', resolveDir: dirname(root) }));
  },
};

const shared = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: true,
  plugins: [lean],
  banner,
  define: { MANIFEST_MERGE_VERSION: JSON.stringify(version) },
};

await build({ ...shared, entryPoints: ['src/index.ts'], outfile: join(out, 'index.js') });
// A trial build outside the package loads as ESM too, as dist/ does under the package's "type": "module": without it
// Node reads the bundle as CommonJS, finds ESM syntax and loads it again (measured: +150 ms CPU, +20 MiB peak RSS per run).
if (resolve(out) !== resolve(root, 'dist')) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
}
await build({
  ...shared,
  entryPoints: ['src/cli.ts'],
  outfile: join(out, 'cli.js'),
  banner: { js: '#!/usr/bin/env node\n' + banner.js },
});
