// Maps a stack trace of the bundle (dist/*.js) back to src/ lines, at the moment one is printed.
// Turning Node's own source-map support on at start (setSourceMapsEnabled) cost ~0.25 s and
// 7 MB on every run of the action, measured; a lookup here costs nothing until a bug shows.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const FRAME = /((?:file:\/\/)?\/[^\s():]+\.[cm]?js):(\d+):(\d+)/g;

function loadMap(file: string, maps: Map<string, SourceMap | undefined>): SourceMap | undefined {
  if (maps.has(file)) return maps.get(file);
  let map: SourceMap | undefined;
  try {
    const path = file.startsWith('file:') ? fileURLToPath(file) : file;
    if (existsSync(`${path}.map`))
      map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    map = undefined; // an unreadable map leaves the frame as it is
  }
  maps.set(file, map);
  return map;
}

/** `stack` with every frame in a source-mapped file shown at its original `src/…:line:column`. */
export function mapStackTrace(stack: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  return stack.replace(FRAME, (frame, file: string, line: string, column: string) => {
    const entry = loadMap(file, maps)?.findEntry(Number(line) - 1, Number(column) - 1) as
      { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (!entry?.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return frame;
    const source = entry.originalSource.replace(/^(?:\.\.\/)+/, '');
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
