// The contenders, each run the way its users run it, as separate processes:
//   ours     node dist/cli.js merge --tag T... SRC...
//   docker   docker manifest create --insecure T SRC... ; docker manifest push --insecure T
//   buildah  buildah manifest create L ; manifest add [--all] L docker://SRC ... ; manifest push --all L docker://T
//   skopeo   skopeo copy --all docker://INDEX docker://T   (only where an index to copy exists)
// Each run gets fresh state (docker config dir, buildah storage, empty auth files).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../support/registry.js';
import type { Step } from './measure.js';

/** `ours` runs on the action's Node (24, as action.yml says); `ours-local` on this machine's default Node, when that differs. */
export type ToolId = 'ours' | 'ours-local' | 'docker' | 'buildah' | 'skopeo';

export const TOOL_LABELS: Record<ToolId, string> = {
  ours: 'manifest-merge',
  'ours-local': 'manifest-merge',
  docker: 'docker manifest',
  buildah: 'buildah manifest',
  skopeo: 'skopeo copy',
};

/** A prepared run: the commands, their environment, and what to delete afterwards. */
export interface PreparedRun {
  steps: Step[];
  env: NodeJS.ProcessEnv;
  freshContainersCache: boolean;
  cleanup: () => Promise<void>;
}

export interface Tools {
  cli: string;
  /** the Node our CLI runs on: the action's runtime (Node 24) when npx has it, else this one */
  node: string;
  nodeVersion: string;
  /** this machine's default Node, when it is not `node` */
  localNode?: string;
  localNodeVersion?: string;
  docker?: string;
  buildah?: string;
  skopeo?: string;
}

export function findTools(cli: string, peers: boolean, node = process.execPath): Tools {
  const version = (path: string) => spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return {
    cli,
    node,
    nodeVersion: version(node),
    ...(node !== process.execPath ? { localNode: process.execPath, localNodeVersion: process.version } : {}),
    docker: peers ? findOnPath('docker') : undefined,
    buildah: peers ? findOnPath('buildah') : undefined,
    skopeo: peers ? findOnPath('skopeo') : undefined,
  };
}

export function hasTool(tools: Tools, id: ToolId): boolean {
  if (id === 'ours') return true;
  if (id === 'ours-local') return tools.localNode !== undefined;
  return tools[id] !== undefined;
}

export function toolLabel(tools: Pick<Tools, 'nodeVersion' | 'localNodeVersion'>, id: ToolId): string {
  if (id === 'ours') return `${TOOL_LABELS.ours} (Node ${tools.nodeVersion.replace(/^v/, '')})`;
  if (id === 'ours-local') return `${TOOL_LABELS.ours} (Node ${(tools.localNodeVersion ?? '').replace(/^v/, '')})`;
  return TOOL_LABELS[id];
}

async function scratch(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `mm-bench-${prefix}-`));
}

/** `registry host → credentials`, for registries with auth. */
export type Logins = Record<string, { username: string; password: string }>;

/** docker's config.json (and containers' auth.json, the same format), as `docker login` leaves it. */
function authJson(logins: Logins = {}): string {
  const auths = Object.fromEntries(Object.entries(logins).map(([host, c]) => [host, { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') }]));
  return JSON.stringify({ auths });
}

/** A hermetic containers setup: accept-anything signature policy and an auth file. */
async function containersFiles(dir: string, logins?: Logins): Promise<{ policy: string; authfile: string }> {
  const policy = join(dir, 'policy.json');
  const authfile = join(dir, 'auth.json');
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  await writeFile(authfile, authJson(logins));
  return { policy, authfile };
}

function removing(dir: string): () => Promise<void> {
  return () => rm(dir, { recursive: true, force: true });
}

/** Our CLI merging `sources` into every tag of `tags` (references through the proxies). */
export async function oursMerge(tools: Tools, sources: string[], tags: string[], options: { node?: string; logins?: Logins } = {}): Promise<PreparedRun> {
  const dir = await scratch('ours');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  return {
    steps: [{ command: options.node ?? tools.node, args: [tools.cli, 'merge', '--quiet', ...tags.flatMap((t) => ['--tag', t]), ...sources] }],
    env: { ...process.env, DOCKER_CONFIG: dir },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** `docker manifest create` + `push`; fails (as docker does) on index sources and across registries. */
export async function dockerMerge(tools: Tools, sources: string[], tag: string, options: { logins?: Logins } = {}): Promise<PreparedRun> {
  const docker = tools.docker!;
  const dir = await scratch('docker');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  return {
    steps: [
      { command: docker, args: ['manifest', 'create', '--insecure', tag, ...sources] },
      { command: docker, args: ['manifest', 'push', '--insecure', tag] },
    ],
    env: { ...process.env, DOCKER_CONFIG: dir },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** buildah's manifest list workflow into each of `tags` (one push per tag); `all` adds every entry of an index source. */
export async function buildahMerge(tools: Tools, sources: string[], tags: string[], options: { all?: boolean; logins?: Logins } = {}): Promise<PreparedRun> {
  const buildah = tools.buildah!;
  const dir = await scratch('buildah');
  const { policy, authfile } = await containersFiles(dir, options.logins);
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
  const list = 'bench-list';
  const steps: Step[] = [{ command: buildah, args: [...base, 'manifest', 'create', list] }];
  for (const source of sources) {
    steps.push({ command: buildah, args: [...base, 'manifest', 'add', ...(options.all ? ['--all'] : []), '--tls-verify=false', '--authfile', authfile, list, `docker://${source}`] });
  }
  for (const tag of tags) {
    steps.push({
      command: buildah,
      args: [...base, 'manifest', 'push', '--all', '--tls-verify=false', '--authfile', authfile, '--signature-policy', policy, list, `docker://${tag}`],
    });
  }
  return { steps, env: process.env, freshContainersCache: true, cleanup: removing(dir) };
}

/** `skopeo copy --all` of an existing index (skopeo cannot merge; it copies what is there). */
export async function skopeoCopy(tools: Tools, source: string, tag: string, options: { logins?: Logins } = {}): Promise<PreparedRun> {
  const dir = await scratch('skopeo');
  const { policy, authfile } = await containersFiles(dir, options.logins);
  return {
    steps: [
      {
        command: tools.skopeo!,
        args: ['--policy', policy, 'copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-authfile', authfile, '--dest-authfile', authfile, `docker://${source}`, `docker://${tag}`],
      },
    ],
    env: process.env,
    freshContainersCache: true,
    cleanup: removing(dir),
  };
}
