// Both entries' inputs: the shared parsers (request.ts), the action's inputs (inputs.ts) and the
// CLI's flags (flags.ts), each into the same MergeRequest and ClientSettings.
import { describe, expect, it } from '@jest/globals';
import { InputError, UsageError, isUsageOrInput } from '../../src/base/errors.js';
import { parseInspectCommand, parseMergeCommand } from '../../src/request/flags.js';
import { getInputs } from '../../src/request/inputs.js';
import { MediaType } from '../../src/oci/manifest.js';
import { parsePlatform } from '../../src/oci/platform.js';
import { planMerge } from '../../src/engine/plan.js';
import type { ResolvedSource } from '../../src/engine/model.js';
import { MAX_TIMEOUT_MS, parseAnnotations, parseDuration, parseList } from '../../src/request/parse.js';

function getter(values: Record<string, string>) {
  return (name: string) => values[name] ?? '';
}

const base = { sources: 'ghcr.io/acme/app:amd64\nghcr.io/acme/app:arm64', tags: 'ghcr.io/acme/app:latest' };
const noPassword = () => {
  throw new Error('the password was read without --password-stdin');
};

describe('parseList', () => {
  it('splits on newlines and commas, drops blanks and # comments', () => {
    expect(parseList('a, b\n\n# a comment, with a comma\nc,,\n  d  ')).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('getInputs (the action)', () => {
  it('reads a full set of inputs with defaults', () => {
    const { request, client, summary, warnings } = getInputs(getter(base));
    expect(request.sources.map((s) => s.tag)).toEqual(['amd64', 'arm64']);
    expect(request.tags[0]).toEqual({ registry: 'ghcr.io', repository: 'acme/app', tag: 'latest' });
    expect(request).toMatchObject({ attestations: 'keep', format: 'auto', push: true, append: false, platforms: undefined });
    expect(client).toEqual({ insecureRegistries: [], timeoutMs: 600000 });
    expect(summary).toBe(true);
    expect(warnings).toEqual([]);
  });

  it.each([
    [{ ...base, sources: '\n# nothing\n' }, /Input `sources` is empty/],
    [{ ...base, tags: '' }, /Input `tags` is empty/],
    [{ ...base, sources: 'ghcr.io/Acme/app:1' }, /`sources`: Invalid image reference "ghcr.io\/Acme\/app:1".*lower case/],
    [{ ...base, tags: `ghcr.io/acme/app@sha256:${'a'.repeat(64)}` }, /is a digest reference, which cannot be a target/],
    [{ ...base, attestations: 'drop' }, /Input `attestations` is "drop".*keep, strip/],
    [{ ...base, format: 'v2' }, /Input `format` is "v2".*auto, oci, docker/],
    [{ ...base, push: 'yes' }, /Input `push` is "yes".*true or false/],
    [{ ...base, platforms: 'linux/amd64,linux' }, /`platforms`: Malformed platform "linux"/],
    [{ ...base, platforms: 'linux/arm64,linux/arm64/v8' }, /lists linux\/arm64 twice/],
    [{ ...base, timeout: 'soon' }, /`timeout` is "soon", not a duration/],
    [{ ...base, timeout: '0' }, /Input `timeout` is "0", which leaves no time at all/],
    [{ ...base, timeout: '99999999h' }, /Input `timeout` is "99999999h", over the limit of 24h/],
    [{ ...base, username: 'bob' }, /Input `password` is empty while `username` is set/],
    [{ ...base, registry: 'not a host' }, /Input `registry`: "not a host" is not a registry host/],
  ])('rejects %j', (values, message) => {
    expect(() => getInputs(getter(values))).toThrow(message);
  });

  it('gives explicit credentials to the first tag’s registry unless `registry` says otherwise', () => {
    expect(getInputs(getter({ ...base, username: 'bob', password: 's3cret' })).client.credentials).toEqual({ registry: 'ghcr.io', username: 'bob', password: 's3cret' });
    expect(getInputs(getter({ ...base, username: 'bob', password: 'x', registry: 'https://docker.io' })).client.credentials?.registry).toBe('docker.io');
  });

  it('reads insecure registries and the time budget into the client settings', () => {
    const { client } = getInputs(getter({ ...base, 'insecure-registries': 'http://reg.lan:5000/, other.lan', timeout: '90s' }));
    expect(client).toEqual({ insecureRegistries: ['reg.lan:5000', 'other.lan'], timeoutMs: 90000 });
  });
});

describe('parseMergeCommand / parseInspectCommand (the CLI)', () => {
  it('reads flags into the same request and settings as the action’s inputs', () => {
    const command = parseMergeCommand(
      ['-t', 'ghcr.io/acme/app:latest', '--platforms', 'linux/amd64,linux/arm64', '--attestations', 'strip', '--format', 'oci', '--dry-run', '--append', '--annotation', 'index:a=b', '--timeout', '90s', '--insecure-registry', 'reg.lan', '-q', 'ghcr.io/acme/app:amd64', 'ghcr.io/acme/app:arm64'],
      noPassword,
    );
    const action = getInputs(getter({ ...base, platforms: 'linux/amd64,linux/arm64', attestations: 'strip', format: 'oci', push: 'false', append: 'true', annotations: 'index:a=b', timeout: '90s', 'insecure-registries': 'reg.lan' }));
    expect(command.help).toBe(false);
    if (command.help) return;
    expect(command.request).toEqual(action.request);
    expect(command.client).toEqual(action.client);
    expect(command.output).toEqual({ json: false, quiet: true, verbose: false });
  });

  it('reads the password from standard input only with --password-stdin, for --registry or the first tag’s', () => {
    const merge = parseMergeCommand(['--username', 'ci', '--password-stdin', '-t', 'ghcr.io/acme/app:1', 'ghcr.io/acme/app:a'], () => 'pw');
    expect(!merge.help && merge.client.credentials).toEqual({ registry: 'ghcr.io', username: 'ci', password: 'pw' });
    const inspect = parseInspectCommand(['--username', 'ci', '--password-stdin', '--registry', 'quay.io', 'ghcr.io/acme/app:a'], () => 'pw');
    expect(!inspect.help && inspect.client.credentials).toEqual({ registry: 'quay.io', username: 'ci', password: 'pw' });
  });

  it('inspect needs no tag: its settings come from REF alone', () => {
    const inspect = parseInspectCommand(['--username', 'ci', '--password-stdin', 'localhost:5000/acme/app:a'], () => 'pw');
    expect(inspect.help).toBe(false);
    if (inspect.help) return;
    expect(inspect.reference).toEqual({ registry: 'localhost:5000', repository: 'acme/app', tag: 'a' });
    expect(inspect.client.credentials?.registry).toBe('localhost:5000');
  });

  it.each([
    [['merge-less'], UsageError, /merge needs at least one --tag/],
    [['-t', 'x/y:z', '--timeout', '0', 'a/b:c'], InputError, /^--timeout is "0", which leaves no time at all/],
    [['-t', 'x/y:z', '--timeout', '0s', 'a/b:c'], InputError, /^--timeout is "0s", which leaves no time at all/],
    [['-t', 'x/y:z', '--timeout', '99999999h', 'a/b:c'], InputError, /^--timeout is "99999999h", over the limit of 24h/],
    [['-t', 'x/y:z', '--format', 'v1', 'a/b:c'], InputError, /^--format is "v1". Use one of: auto, oci, docker$/],
    [['-t', 'x/y:z', '--annotation', 'novalue', 'a/b:c'], InputError, /^--annotation: "novalue" is not key=value/],
    [['-t', 'x/y@sha256:' + 'a'.repeat(64), 'a/b:c'], InputError, /^--tag: "x\/y@sha256:a+" is a digest reference/],
    [['-t', 'x/y:z', 'A/b:c'], InputError, /^SOURCE: Invalid image reference "A\/b:c"/],
    [['-t', 'x/y:z', '--password-stdin', 'a/b:c'], UsageError, /--password-stdin needs --username/],
  ])('refuses %j as the user’s own mistake (exit 2)', (args, kind, message) => {
    let error: unknown;
    try {
      parseMergeCommand(args, () => 'pw');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    expect(isUsageOrInput(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});

describe('parseDuration', () => {
  it.each([
    ['600', 600000],
    ['10m', 600000],
    ['1h30m', 5400000],
    ['90s', 90000],
    ['1500ms', 1500],
    ['0.5s', 500],
    ['24h', MAX_TIMEOUT_MS],
  ])('%s', (text, ms) => expect(parseDuration('timeout', text, 1)).toBe(ms));

  it.each(['0', '0s', '0ms', '0.0001s', '0h0m'])('refuses %s: no time at all', (text) => {
    expect(() => parseDuration('--timeout', text, 1)).toThrow(new InputError(`--timeout is "${text}", which leaves no time at all`, { hint: 'Give a budget above zero, e.g. 10m (the default)' }));
  });

  // Node timers hold at most 2^31-1 ms and fire at once beyond it: a huge budget would be none.
  it.each(['24h1ms', '25h', '2147484s', '99999999h', '9'.repeat(40)])('refuses %s: over 24h (a timer past 2^31-1 ms fires at once)', (text) => {
    expect(() => parseDuration('--timeout', text, 1)).toThrow(/over the limit of 24h/);
  });

  it('never returns a delay a Node timer cannot hold', () => {
    expect(MAX_TIMEOUT_MS).toBeLessThan(2 ** 31 - 1);
  });
});

describe('parseAnnotations', () => {
  it('reads index (default) and manifest-descriptor lines, with platform selectors', () => {
    const { annotations, skipped } = parseAnnotations([
      'org.opencontainers.image.title=app',
      'index:org.opencontainers.image.version=1.0=final',
      'manifest-descriptor:org.opencontainers.image.revision=abc',
      'manifest-descriptor[linux/arm64]:arm=yes',
      'manifest:org.opencontainers.image.description=hello, world',
    ]);
    expect({ ...annotations.index }).toEqual({ 'org.opencontainers.image.title': 'app', 'org.opencontainers.image.version': '1.0=final' });
    expect(annotations.descriptors).toEqual([
      { key: 'org.opencontainers.image.revision', value: 'abc' },
      { key: 'arm', value: 'yes', platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^manifest:org\.opencontainers\.image\.description=hello, world \(.*digest/);
  });

  it.each([
    ['novalue', /is not key=value/],
    ['weird:key=value', /unknown level "weird"/],
    ['index[linux/amd64]:k=v', /platform selector only applies/],
  ])('rejects %s', (line, message) => {
    expect(() => parseAnnotations([line])).toThrow(message);
  });

  // Defect #10: `__proto__=x` set the record's prototype instead of a key, and vanished from the index.
  it('keeps keys named like Object.prototype members (__proto__, constructor) as annotations of the pushed index', () => {
    const { annotations } = parseAnnotations(['__proto__=polluted', 'constructor=c', 'index:toString=t', 'org.example=ok']);
    expect(Object.keys(annotations.index).sort()).toEqual(['__proto__', 'constructor', 'org.example', 'toString']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const platform = parsePlatform('linux/amd64');
    const source: ResolvedSource = {
      input: 'reg.example/acme/app:amd64',
      repository: { registry: 'reg.example', repository: 'acme/app' },
      digest: `sha256:${'9'.repeat(64)}`,
      mediaType: MediaType.OciIndex,
      entries: [{ kind: 'image', descriptor: { mediaType: MediaType.OciManifest, digest: `sha256:${'1'.repeat(64)}`, size: 500, platform }, platform }],
    };
    const plan = planMerge([source], { attestations: 'keep', format: 'auto', annotations });
    const pushed = JSON.parse(plan.bytes.toString()) as { annotations: Record<string, string> };
    expect(Object.entries(pushed.annotations)).toEqual([
      ['__proto__', 'polluted'],
      ['constructor', 'c'],
      ['org.example', 'ok'],
      ['toString', 't'],
    ]);
  });
});
