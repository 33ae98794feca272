// The layer table of src/, in one place: eslint.config.js turns it into per-folder
// `no-restricted-imports` (core ESLint) options; __tests__/repository/layers.test.ts checks it.
//
// src/<folder>/ may import its own folder and the layers BELOW it, never one above it nor a
// sibling on the same tier. Type-only imports count too (no allowTypeImports): a type that
// points upward is a dependency upward all the same.
//
// The patterns match the import's text, not its resolved path (core ESLint has no resolver):
// `../engine/merge.js` from src/oci/x.ts is src/engine/. Imports in src/ are all relative with
// `.js` suffixes (NodeNext), so the text says where they go.

/** Top first. An entry that is an array is one tier whose folders may not import each other. */
export const LAYERS = [['action', 'cli'], 'request', 'engine', 'sources', 'registry', 'oci', 'base'];

/**
 * Folders below the rest of their own layer: src/registry/transport/ may not import
 * src/registry/*.ts (those may import transport/).
 */
export const SUBLAYERS = { registry: ['transport'] };

/** The bundle entries at the top of src/, and the one folder each may import. */
export const ENTRIES = { 'index.ts': 'action', 'cli.ts': 'cli' };

/** Packages only one folder (or file, under src/) may import at run time. */
export const OWNED_PACKAGES = [
  { packages: ['@actions/core', '@actions/github'], owner: 'action', allowTypeImports: false },
  // the HTTP client is set up in one file; other files may name its types (Dispatcher)
  { packages: ['undici'], owner: 'registry/transport/wire.ts', allowTypeImports: true },
];

export const LAYER_TABLE_FILE = 'scripts/lint/layers.mjs';

const tiers = LAYERS.map((tier) => (Array.isArray(tier) ? tier : [tier]));
const layerNames = tiers.flat();
const order = tiers.map((tier) => tier.join('|')).join(' > ');
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `./`-prefixed or not, then one or more `../`, then `folder` as a whole path segment */
const upInto = (folder) => `^(?:\\./)?(?:\\.\\./)+${escape(folder)}(?:/|$)`;

/** The layers `layer` may import (itself included), top first. */
export function allowedLayers(layer) {
  const i = tiers.findIndex((tier) => tier.includes(layer));
  if (i < 0) throw new Error(`${LAYER_TABLE_FILE}: no layer ${layer}`);
  return [layer, ...tiers.slice(i + 1).flat()];
}

/** The layers `layer` may not import: every tier above it, and its own tier's other folders. */
export function forbiddenLayers(layer) {
  const allowed = new Set(allowedLayers(layer));
  return layerNames.filter((name) => !allowed.has(name));
}

function layerMessage(from, allowed) {
  return `Layers: src/${from} may import only ${allowed.join(', ')} (order ${order}; table in ${LAYER_TABLE_FILE}).`;
}

/** True when `where` (a folder or file under src/) is `owner` or inside it. */
const within = (where, owner) => where === owner || where.startsWith(`${owner}/`);

/** A pattern per owned package, for files outside its owner. */
function ownedPackagePatterns(where) {
  return OWNED_PACKAGES.filter(({ owner }) => !within(where, owner)).map(({ packages, owner, allowTypeImports }) => ({
    regex: `^(?:${packages.map(escape).join('|')})(?:/|$)`,
    ...(allowTypeImports ? { allowTypeImports: true } : {}),
    message: `Layers: only src/${owner}${owner.endsWith('.ts') ? '' : '/'} may import ${packages.join(', ')}${allowTypeImports ? ' at run time (import type is fine)' : ''} (table in ${LAYER_TABLE_FILE}).`,
  }));
}

/** Each part of src/ with the relative-import patterns it is held to: `where` is a folder (or an entry file). */
function areas() {
  const out = [];
  for (const layer of layerNames) {
    const upward = forbiddenLayers(layer).map(upInto);
    const below = allowedLayers(layer)
      .slice(1)
      .map((name) => `${name}/`);
    const subs = SUBLAYERS[layer] ?? [];
    const message = layerMessage(`${layer}/`, [`${layer}/`, ...below]);
    out.push({
      where: layer,
      folder: true,
      ignores: subs.map((sub) => `src/${layer}/${sub}/**`),
      patterns: upward.map((regex) => ({ regex, message })),
    });
    for (const sub of subs) {
      // `../x` (a file or another folder of the layer), or `../../<layer>/x` that is not `sub` itself
      const rest = `(?!\\.\\.(?:/|$)|${escape(sub)}(?:/|$))`;
      const subMessage = layerMessage(`${layer}/${sub}/`, [`${layer}/${sub}/`, ...below]).replace(
        ' (order',
        ` (not the rest of ${layer}/; order`,
      );
      const regexes = [...upward, `^(?:\\./)?\\.\\./${rest}`, `^(?:\\./)?\\.\\./\\.\\./${escape(layer)}/${rest}`];
      out.push({ where: `${layer}/${sub}`, folder: true, ignores: [], patterns: regexes.map((regex) => ({ regex, message: subMessage })) });
    }
  }
  for (const [entry, layer] of Object.entries(ENTRIES)) {
    const message = `Layers: the entry src/${entry} may import only ${layer}/ (table in ${LAYER_TABLE_FILE}).`;
    const others = layerNames.filter((name) => name !== layer);
    out.push({
      where: entry,
      folder: false,
      ignores: [],
      patterns: others.map((other) => ({ regex: `^(?:\\./)?${escape(other)}(?:/|$)`, message })),
    });
  }
  // a file that owns a package is its own area (its folder's patterns, without that package's)
  for (const { owner } of OWNED_PACKAGES.filter(({ owner }) => owner.endsWith('.ts'))) {
    const folder = owner.slice(0, owner.lastIndexOf('/'));
    const area = out.find((a) => a.folder && a.where === folder);
    if (!area) throw new Error(`${LAYER_TABLE_FILE}: ${owner} is not directly in a layer folder`);
    area.ignores.push(`src/${owner}`);
    out.push({ where: owner, folder: false, ignores: [], patterns: area.patterns });
  }
  return out;
}

/**
 * Flat-config objects for src/. Exactly one of them sets `no-restricted-imports` for any file:
 * a later object would replace an earlier one's options, not add to them.
 */
export function layerConfigs() {
  const configs = areas().map(({ where, folder, ignores, patterns }) => ({
    name: `layers/${where}`,
    files: [folder ? `src/${where}/**/*.ts` : `src/${where}`],
    ...(ignores.length ? { ignores } : {}),
    rules: { 'no-restricted-imports': ['error', { patterns: [...patterns, ...ownedPackagePatterns(where)] }] },
  }));
  // anything else under src/ is in no layer: every import there is an error until it is listed
  configs.push({
    name: 'layers/unlisted',
    files: ['src/**/*.ts'],
    ignores: [...layerNames.map((layer) => `src/${layer}/**`), ...Object.keys(ENTRIES).map((entry) => `src/${entry}`)],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^', message: `Layers: this part of src/ is in no layer; add it to ${LAYER_TABLE_FILE}.` }] },
      ],
    },
  });
  return configs;
}
