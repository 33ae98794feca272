// Import cycles among TypeScript sources: every relative `import`, `import type`,
// `export ... from` and `import()` is an edge (types included: a type cycle still ties the
// modules together), `.js` specifiers resolve to the `.ts` file (NodeNext), and the cycles are
// the strongly connected components (Tarjan) with more than one module, or a module importing itself.
// CLI: `node --import tsx scripts/lint/import-cycles.ts [src]`: prints each cycle, exits 1 if any.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** module (a path relative to the root, `/`-separated) → the modules it imports, in source order */
export type ImportGraph = Map<string, string[]>;

/** The relative specifiers a source imports or re-exports (type-only ones included). */
export function relativeSpecifiers(source: string): string[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('./') || name.startsWith('../'));
}

/** The graph of `files` (path → source text, paths `/`-separated); imports of files not in `files` are left out. */
export function buildImportGraph(files: Map<string, string>): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const [file, source] of files) {
    const targets: string[] = [];
    for (const specifier of relativeSpecifiers(source)) {
      const target = posix
        .normalize(posix.join(posix.dirname(file), specifier))
        .replace(/\.js$/, '.ts')
        .replace(/\.mjs$/, '.mts');
      if (files.has(target) && !targets.includes(target)) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Each cycle as its modules (sorted); cycles sorted by their first module. */
export function findCycles(graph: ImportGraph): string[][] {
  // Tarjan's strongly connected components
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];

  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Every `.ts` file under `root` (declaration files excluded), keyed by its path relative to `root`. */
export async function readSources(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
        files.set(relative(root, path).split(sep).join('/'), await readFile(path, 'utf8'));
    }
  };
  await walk(root);
  return files;
}

/** The import cycles among the `.ts` files under `root`. */
export async function importCycles(root: string): Promise<string[][]> {
  return findCycles(buildImportGraph(await readSources(root)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = resolve(process.argv[2] ?? 'src');
  const cycles = await importCycles(root);
  for (const cycle of cycles) console.log(`cycle in ${relative(process.cwd(), root) || '.'}: ${cycle.join(' <-> ')}`);
  if (cycles.length) process.exitCode = 1;
  else console.log(`no import cycles under ${relative(dirname(root), root)}`);
}
