// The contenders, each run the way its users run it, as separate processes:
//   ours     node dist/cli.js merge --referrers skip --tag T... SRC...   (the peers copy no referrers: the same work)
//   ours-default  the same with default settings (referrers: copy), as users run it
//   docker   docker manifest create --insecure T SRC... ; docker manifest push --insecure T
//   buildah  buildah manifest create L ; manifest add [--all] L docker://SRC ... ; manifest push --all L docker://T
//   skopeo   skopeo copy --all docker://INDEX docker://T   (only where an index to copy exists)
//   imagetools  docker buildx imagetools create -t T... SRC...   (buildx as a CLI plugin, no daemon)
//   crane    crane index append -t T -m SRC...   ; crane copy INDEX T (copies only)
//   regctl   regctl index create T --ref SRC...  ; regctl image copy INDEX T (copies only)
// Each run gets fresh state (docker config dir, buildah storage, empty auth files, HOME).
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../support/registry.js';
import type { Step } from './measure.js';

/** `ours` runs on the action's Node (24, as action.yml says); `ours-local` on this machine's default Node, when that differs. */
export type ToolId =
  | 'ours'
  | 'ours-default'
  | 'ours-local'
  | 'ours-loop'
  | 'docker'
  | 'buildah'
  | 'skopeo'
  | 'imagetools'
  | 'crane'
  | 'crane-copy'
  | 'regctl'
  | 'regctl-copy'
  | 'raw';

export const TOOL_LABELS: Record<ToolId, string> = {
  ours: 'manifest-merge',
  'ours-default': 'manifest-merge, default settings',
  'ours-local': 'manifest-merge',
  'ours-loop': 'manifest-merge, one run per image',
  docker: 'docker manifest',
  buildah: 'buildah manifest',
  skopeo: 'skopeo copy',
  imagetools: 'docker buildx imagetools create',
  crane: 'crane index append',
  'crane-copy': 'crane copy',
  regctl: 'regctl index create',
  'regctl-copy': 'regctl image copy',
  raw: 'raw undici GET → PUT',
};

/** The peers that merge (a new index from sources), fastest configuration each. */
export const MERGERS: ToolId[] = ['imagetools', 'crane', 'regctl', 'docker', 'buildah'];

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
  /** the buildx binary, installed as a docker CLI plugin per run (needs `docker`) */
  buildx?: string;
  crane?: string;
  regctl?: string;
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
  if (id === 'ours' || id === 'ours-default' || id === 'ours-loop' || id === 'raw') return true;
  if (id === 'ours-local') return tools.localNode !== undefined;
  if (id === 'imagetools') return tools.buildx !== undefined && tools.docker !== undefined;
  if (id === 'crane-copy') return tools.crane !== undefined;
  if (id === 'regctl-copy') return tools.regctl !== undefined;
  return tools[id] !== undefined;
}

export function toolLabel(tools: Pick<Tools, 'nodeVersion' | 'localNodeVersion'>, id: ToolId): string {
  if (id === 'ours') return `${TOOL_LABELS.ours} (Node ${tools.nodeVersion.replace(/^v/, '')})`;
  if (id === 'ours-default') return `${TOOL_LABELS['ours-default']} (Node ${tools.nodeVersion.replace(/^v/, '')})`;
  if (id === 'ours-local') return `${TOOL_LABELS.ours} (Node ${(tools.localNodeVersion ?? '').replace(/^v/, '')})`;
  if (id === 'ours-loop') return `${TOOL_LABELS['ours-loop']} (Node ${tools.nodeVersion.replace(/^v/, '')})`;
  return TOOL_LABELS[id];
}

async function scratch(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `mm-bench-${prefix}-`));
}

/** `registry host → credentials`, for registries with auth. */
export type Logins = Record<string, { username: string; password: string }>;

/** docker's config.json (and containers' auth.json, the same format), as `docker login` leaves it. */
function authJson(logins: Logins = {}): string {
  const auths = Object.fromEntries(
    Object.entries(logins).map(([host, c]) => [host, { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') }]),
  );
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
export async function oursMerge(
  tools: Tools,
  sources: string[],
  tags: string[],
  options: { node?: string; logins?: Logins; defaults?: boolean } = {},
): Promise<PreparedRun> {
  const dir = await scratch('ours');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  // --referrers skip: the peers copy no referrers, so this is the same work; `defaults` runs it as
  // users do (referrers: copy), on a row of its own beside it
  const settings = options.defaults ? [] : ['--referrers', 'skip'];
  return {
    steps: [
      {
        command: options.node ?? tools.node,
        args: [tools.cli, 'merge', '--quiet', ...settings, ...tags.flatMap((t) => ['--tag', t]), ...sources],
      },
    ],
    env: { ...process.env, DOCKER_CONFIG: dir },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** Our CLI merging every image of a spec file in one run (`merge --spec FILE`). */
export async function oursSpec(
  tools: Tools,
  images: Array<{ sources: string[]; tags: string[] }>,
  options: { logins?: Logins; defaults?: boolean } = {},
): Promise<PreparedRun> {
  const dir = await scratch('ours-spec');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  const spec = join(dir, 'spec.json');
  await writeFile(spec, JSON.stringify({ images }));
  const settings = options.defaults ? [] : ['--referrers', 'skip'];
  return {
    steps: [{ command: tools.node, args: [tools.cli, 'merge', '--quiet', ...settings, '--spec', spec] }],
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
export async function buildahMerge(
  tools: Tools,
  sources: string[],
  tags: string[],
  options: { all?: boolean; logins?: Logins } = {},
): Promise<PreparedRun> {
  const buildah = tools.buildah!;
  const dir = await scratch('buildah');
  const { policy, authfile } = await containersFiles(dir, options.logins);
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs'];
  const list = 'bench-list';
  const steps: Step[] = [{ command: buildah, args: [...base, 'manifest', 'create', list] }];
  for (const source of sources) {
    steps.push({
      command: buildah,
      args: [
        ...base,
        'manifest',
        'add',
        ...(options.all ? ['--all'] : []),
        '--tls-verify=false',
        '--authfile',
        authfile,
        list,
        `docker://${source}`,
      ],
    });
  }
  for (const tag of tags) {
    steps.push({
      command: buildah,
      args: [
        ...base,
        'manifest',
        'push',
        '--all',
        '--tls-verify=false',
        '--authfile',
        authfile,
        '--signature-policy',
        policy,
        list,
        `docker://${tag}`,
      ],
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
        args: [
          '--policy',
          policy,
          'copy',
          '--all',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          '--src-authfile',
          authfile,
          '--dest-authfile',
          authfile,
          `docker://${source}`,
          `docker://${tag}`,
        ],
      },
    ],
    env: process.env,
    freshContainersCache: true,
    cleanup: removing(dir),
  };
}

/**
 * Several prepared runs as one job, one after the other (the (e) loops: a workflow running a
 * tool once per image). Each step keeps its own run's environment through `env K=V… command`
 * (env execs the command, so time's peak RSS is the command's).
 */
export function loopOf(runs: PreparedRun[]): PreparedRun {
  const own = (env: NodeJS.ProcessEnv) =>
    Object.entries(env)
      .filter(([k, v]) => v !== undefined && process.env[k] !== v)
      .map(([k, v]) => `${k}=${v}`);
  return {
    steps: runs.flatMap((run) => run.steps.map((step) => ({ command: 'env', args: [...own(run.env), step.command, ...step.args] }))),
    env: process.env,
    freshContainersCache: runs.some((r) => r.freshContainersCache),
    cleanup: async () => {
      for (const run of runs) await run.cleanup();
    },
  };
}

/** `docker buildx imagetools create`: buildx as a CLI plugin in a fresh DOCKER_CONFIG; no daemon is involved. */
export async function imagetoolsMerge(
  tools: Tools,
  sources: string[],
  tags: string[],
  options: { logins?: Logins } = {},
): Promise<PreparedRun> {
  const dir = await scratch('imagetools');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  await mkdir(join(dir, 'cli-plugins'));
  await symlink(tools.buildx!, join(dir, 'cli-plugins', 'docker-buildx'));
  return {
    // --prefer-index is the default (an index source stays an index); stated so the run says what it is
    steps: [
      { command: tools.docker!, args: ['buildx', 'imagetools', 'create', '--prefer-index', ...tags.flatMap((t) => ['-t', t]), ...sources] },
    ],
    env: { ...process.env, DOCKER_CONFIG: dir, HOME: dir },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** `crane index append -t T -m SRC…` (a new index; index sources flattened into their children), once per tag. */
export async function craneMerge(tools: Tools, sources: string[], tags: string[], options: { logins?: Logins } = {}): Promise<PreparedRun> {
  const dir = await scratch('crane');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  return {
    steps: tags.map((tag) => ({
      command: tools.crane!,
      args: ['index', 'append', '--insecure', '-t', tag, ...sources.flatMap((s) => ['-m', s])],
    })),
    env: { ...process.env, DOCKER_CONFIG: dir, HOME: dir },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** `crane copy SRC T`: copies an index with everything under it (skopeo's job, crane's way). */
export async function craneCopy(tools: Tools, source: string, tag: string, options: { logins?: Logins } = {}): Promise<PreparedRun> {
  const dir = await scratch('crane-copy');
  await writeFile(join(dir, 'config.json'), authJson(options.logins));
  return {
    steps: [{ command: tools.crane!, args: ['copy', '--insecure', source, tag] }],
    env: { ...process.env, DOCKER_CONFIG: dir, HOME: dir },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

function hostOf(reference: string): string {
  return reference.split('/')[0];
}

/** regctl's `--host` flags: plain HTTP for every registry involved, with the login where there is one. */
function regctlHosts(references: string[], logins: Logins = {}): string[] {
  return [...new Set(references.map(hostOf))].flatMap((host) => {
    const login = logins[host];
    return ['--host', `reg=${host},tls=disabled${login ? `,user=${login.username},pass=${login.password}` : ''}`];
  });
}

/**
 * `regctl index create T --ref SRC…` (copies what is in another repository), once per tag. An
 * index given as `--ref` becomes a nested index unless `--platform` picks entries of it:
 * `platforms` (index sources) names them, `unknown/unknown` keeping the attestations.
 */
export async function regctlMerge(
  tools: Tools,
  sources: string[],
  tags: string[],
  options: { logins?: Logins; platforms?: string[] } = {},
): Promise<PreparedRun> {
  const dir = await scratch('regctl');
  const platforms = (options.platforms ?? []).flatMap((p) => ['--platform', p]);
  return {
    steps: tags.map((tag) => ({
      command: tools.regctl!,
      args: [
        ...regctlHosts([...sources, tag], options.logins),
        'index',
        'create',
        tag,
        ...sources.flatMap((s) => ['--ref', s]),
        ...platforms,
      ],
    })),
    env: { ...process.env, HOME: dir, REGCTL_CONFIG: join(dir, 'regctl.json') },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** `regctl image copy SRC T`. */
export async function regctlCopy(tools: Tools, source: string, tag: string, options: { logins?: Logins } = {}): Promise<PreparedRun> {
  const dir = await scratch('regctl-copy');
  return {
    steps: [{ command: tools.regctl!, args: [...regctlHosts([source, tag], options.logins), 'image', 'copy', source, tag] }],
    env: { ...process.env, HOME: dir, REGCTL_CONFIG: join(dir, 'regctl.json') },
    freshContainersCache: false,
    cleanup: removing(dir),
  };
}

/** A merge by any merging tool: the one entry point the scenarios use for peers. */
export async function mergeWith(
  tool: ToolId,
  tools: Tools,
  sources: string[],
  tags: string[],
  options: { logins?: Logins; all?: boolean; platforms?: string[] } = {},
): Promise<PreparedRun> {
  switch (tool) {
    case 'ours':
      return oursMerge(tools, sources, tags, options);
    case 'ours-default':
      return oursMerge(tools, sources, tags, { ...options, defaults: true });
    case 'ours-local':
      return oursMerge(tools, sources, tags, { ...options, node: tools.localNode });
    case 'imagetools':
      return imagetoolsMerge(tools, sources, tags, options);
    case 'crane':
      return craneMerge(tools, sources, tags, options);
    case 'regctl':
      return regctlMerge(tools, sources, tags, options);
    case 'buildah':
      return buildahMerge(tools, sources, tags, options);
    case 'docker': {
      // docker manifest pushes one list to one tag: once per tag, as its users do
      const runs = await Promise.all(tags.map((tag) => dockerMerge(tools, sources, tag, options)));
      return runs.length === 1 ? runs[0] : loopOf(runs);
    }
    default:
      throw new Error(`bench: ${tool} does not merge`);
  }
}
