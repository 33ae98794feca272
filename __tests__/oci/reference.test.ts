import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { ManifestMergeError, InvalidReferenceError } from '../../src/base/errors.js';
import {
  MAX_REPOSITORY_LENGTH,
  formatReference,
  formatRepository,
  manifestReference,
  parseReference,
  sameRepository,
  type ImageReference,
} from '../../src/oci/reference.js';
import { DOCKER_HUB } from '../../src/oci/hosts.js';
import { thrown } from '../support/caught.js';

const D = 'sha256:' + 'a'.repeat(64);
const D2 = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

// ---------------------------------------------------------------------------
// The oracle: distribution/reference regexp.go (github.com/distribution/reference,
// ReferenceRegexp = anchored(capture(namePat), optional(":", capture(tag)),
// optional("@", capture(digestPat)))), transcribed piece by piece. Go's
// [[:xdigit:]] is [0-9A-Fa-f]; \w is ASCII in both engines.
// ---------------------------------------------------------------------------
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const domainAndPort = `(?:${domainName}|${ipv6address})${optionalPort}`;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;
const REFERENCE_REGEXP = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const ANCHORED_DOMAIN = new RegExp(`^${domainAndPort}$`);
const ANCHORED_REMOTE_NAME = new RegExp(`^${remoteName}$`);

/**
 * What parseReference must give for `input`: the normalised form, or undefined when it
 * must throw. The grammar decides, plus docker's own rules (ParseNormalizedNamed: bare
 * image IDs refused, `library/` for one-part Hub names, repository path at most 255
 * characters, the first part is a registry when it has "." or ":" or is localhost) and
 * our intentional divergences, each marked DIVERGENCE and tested in its own table below.
 */
function oracle(input: string): string | undefined {
  const text = input.trim(); // DIVERGENCE 1: surrounding white space is ignored
  const match = REFERENCE_REGEXP.exec(text);
  if (!match) return undefined;
  if (/^[a-f0-9]{64}$/.test(text)) return undefined; // docker: an image ID is not a reference
  const [, name, tag, digest] = match;
  if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) return undefined; // DIVERGENCE 2: sha256 only
  let domain = DOCKER_HUB;
  let path = name;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (/[.:]/.test(first) || first.toLowerCase() === 'localhost') {
      if (!ANCHORED_DOMAIN.test(first)) return undefined; // DIVERGENCE 3: such a first part must be a host
      domain = first.toLowerCase(); // DIVERGENCE 5: hosts are lower-cased
      path = name.slice(slash + 1);
    } else if (first.toLowerCase() !== first) {
      return undefined; // DIVERGENCE 4: an upper-case first part is not taken for a host
    }
  }
  // docker then parses "docker.io/" + name: a first part the grammar took for a host
  // without "." or ":" (`[0]/a`) must now be a path component.
  if (!ANCHORED_REMOTE_NAME.test(path)) return undefined;
  if (domain === 'index.docker.io' || domain === 'registry-1.docker.io') domain = DOCKER_HUB; // DIVERGENCE 5 (registry-1)
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path.length > 255) return undefined; // distribution: repository path at most 255
  return `${domain}/${path}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
}

function parseError(input: string): InvalidReferenceError {
  const error = thrown(() => parseReference(input));
  expect(error).toBeInstanceOf(InvalidReferenceError);
  return error as InvalidReferenceError;
}

describe('the oracle itself (so that a broken transcription cannot make the properties vacuous)', () => {
  it.each([
    ['docker.io/library/alpine:3.20', true],
    ['localhost:5000/a/b:tag', true],
    ['[::1]:5000/x', true],
    [`repo:tag@${D}`, true],
    ['Foo/bar', true], // the grammar takes an upper-case first part for a domain
    ['a_b.c/d', true], // ... and reads a non-host first part as a path
    ['[0]/a', true], // ... and takes "[0]" for an IPv6 host, which docker does not
    ['ghcr.io/Acme/app', false],
    ['alpine:', false],
    ['alpine:.tag', false],
    ['http://ghcr.io/a', false],
    ['a//b', false],
    ['a__b', true],
    ['a___b', false],
    ['a..b', false],
    ['a---b', true],
    [`a:${'t'.repeat(128)}`, true],
    [`a:${'t'.repeat(129)}`, false],
  ])('%s matches ReferenceRegexp: %s', (input, matches) => {
    expect(REFERENCE_REGEXP.test(input)).toBe(matches);
  });
});

describe('parseReference: references seen in the wild', () => {
  it.each<[string, string, string, string | undefined, string | undefined]>([
    // Docker Hub short names and aliases
    ['alpine', 'docker.io', 'library/alpine', undefined, undefined],
    ['alpine:3.20', 'docker.io', 'library/alpine', '3.20', undefined],
    ['alpine:latest', 'docker.io', 'library/alpine', 'latest', undefined],
    ['user/repo', 'docker.io', 'user/repo', undefined, undefined],
    ['user/repo:v1.2.3-rc.1', 'docker.io', 'user/repo', 'v1.2.3-rc.1', undefined],
    ['docker.io/alpine', 'docker.io', 'library/alpine', undefined, undefined],
    ['docker.io/library/alpine:edge', 'docker.io', 'library/alpine', 'edge', undefined],
    ['index.docker.io/library/ubuntu:24.04', 'docker.io', 'library/ubuntu', '24.04', undefined],
    ['index.docker.io/ubuntu', 'docker.io', 'library/ubuntu', undefined, undefined],
    ['index.docker.io/acme/app', 'docker.io', 'acme/app', undefined, undefined],
    ['registry-1.docker.io/acme/app:1', 'docker.io', 'acme/app', '1', undefined],
    ['bitnami/postgresql:16', 'docker.io', 'bitnami/postgresql', '16', undefined],
    ['a/b/c/d', 'docker.io', 'a/b/c/d', undefined, undefined],
    // ports, IPs, localhost
    ['localhost:5000/a/b:tag', 'localhost:5000', 'a/b', 'tag', undefined],
    ['localhost/app', 'localhost', 'app', undefined, undefined],
    ['localhost:5000/app', 'localhost:5000', 'app', undefined, undefined],
    ['127.0.0.1:5000/x', '127.0.0.1:5000', 'x', undefined, undefined],
    ['127.0.0.1/x:1', '127.0.0.1', 'x', '1', undefined],
    ['[::1]:5000/x', '[::1]:5000', 'x', undefined, undefined],
    ['[::1]/x:y', '[::1]', 'x', 'y', undefined],
    ['[2001:db8::1]:443/team/app', '[2001:db8::1]:443', 'team/app', undefined, undefined],
    ['registry:5000/app', 'registry:5000', 'app', undefined, undefined],
    ['localhost:5000', 'docker.io', 'library/localhost', '5000', undefined], // no "/": a Hub name with tag 5000, as docker reads it
    // digests
    [`alpine@${D}`, 'docker.io', 'library/alpine', undefined, D],
    [`repo@${D2}`, 'docker.io', 'library/repo', undefined, D2],
    [`repo:tag@${D}`, 'docker.io', 'library/repo', 'tag', D],
    [`ghcr.io/acme/app:sha-abc-0@${D2}`, 'ghcr.io', 'acme/app', 'sha-abc-0', D2],
    [`localhost:5000/app@${D}`, 'localhost:5000', 'app', undefined, D],
    // hosted registries
    ['ghcr.io/acme/app', 'ghcr.io', 'acme/app', undefined, undefined],
    ['ghcr.io/acme/app:sha-0123abc-1', 'ghcr.io', 'acme/app', 'sha-0123abc-1', undefined],
    ['public.ecr.aws/docker/library/nginx:1.27', 'public.ecr.aws', 'docker/library/nginx', '1.27', undefined],
    ['public.ecr.aws/lambda/python:3.12-arm64', 'public.ecr.aws', 'lambda/python', '3.12-arm64', undefined],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/app', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'app', undefined, undefined],
    [
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:main',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com',
      'team/app',
      'main',
      undefined,
    ],
    ['us-docker.pkg.dev/p/r/i', 'us-docker.pkg.dev', 'p/r/i', undefined, undefined],
    [
      'europe-west1-docker.pkg.dev/my-project/my-repo/my-image:v1',
      'europe-west1-docker.pkg.dev',
      'my-project/my-repo/my-image',
      'v1',
      undefined,
    ],
    ['gcr.io/distroless/static-debian12:nonroot', 'gcr.io', 'distroless/static-debian12', 'nonroot', undefined],
    ['mcr.microsoft.com/windows/nanoserver:ltsc2022', 'mcr.microsoft.com', 'windows/nanoserver', 'ltsc2022', undefined],
    ['quay.io/prometheus/node-exporter:v1.8.2', 'quay.io', 'prometheus/node-exporter', 'v1.8.2', undefined],
    ['registry.gitlab.com/group/sub-group/project/image:1', 'registry.gitlab.com', 'group/sub-group/project/image', '1', undefined],
    ['myregistry.azurecr.io/samples/nginx', 'myregistry.azurecr.io', 'samples/nginx', undefined, undefined],
    ['harbor.example.com/proj/app', 'harbor.example.com', 'proj/app', undefined, undefined],
    ['harbor.example.com:8443/proj/app:1.0', 'harbor.example.com:8443', 'proj/app', '1.0', undefined],
    // separators and tag edge cases from the grammar
    ['ghcr.io/a/b_c__d-e--f.g', 'ghcr.io', 'a/b_c__d-e--f.g', undefined, undefined],
    ['ghcr.io/a/b:_x', 'ghcr.io', 'a/b', '_x', undefined],
    ['ghcr.io/a/b:UPPER_Case.tag-1', 'ghcr.io', 'a/b', 'UPPER_Case.tag-1', undefined],
    [`ghcr.io/a/b:${'t'.repeat(128)}`, 'ghcr.io', 'a/b', 't'.repeat(128), undefined],
    // host case and surrounding white space
    ['GHCR.IO/acme/app', 'ghcr.io', 'acme/app', undefined, undefined],
    ['LOCALHOST:5000/app', 'localhost:5000', 'app', undefined, undefined],
    ['  ghcr.io/acme/app:1\n', 'ghcr.io', 'acme/app', '1', undefined],
  ])('%j → %s / %s : %s @ %s', (input, registry, repository, tag, digest) => {
    const expected: ImageReference = { registry, repository };
    if (tag !== undefined) expected.tag = tag;
    if (digest !== undefined) expected.digest = digest;
    const parsed = parseReference(input);
    expect(parsed).toStrictEqual(expected);
    expect(formatReference(parsed)).toBe(oracle(input));
  });
});

describe('parseReference: rejected references say what is wrong and what is allowed', () => {
  it.each<[string, string[]]>([
    ['', ['it is empty']],
    ['   ', ['it is empty']],
    ['ghcr.io/acme/app :1', ['white space']],
    ['ghcr.io/acme/ app', ['white space']],
    ['gh cr.io/app', ['white space']],
    ['https://ghcr.io/acme/app', ['leave out the scheme', 'host/repository']],
    ['http://localhost:5000/app', ['leave out the scheme']],
    ['Alpine', ['repository name "Alpine" must be lower case']],
    ['ghcr.io/Acme/App:1', ['repository name "Acme/App" must be lower case']],
    ['docker.io/library/Alpine', ['repository name "library/Alpine" must be lower case']],
    ['MyUser/app', ['repository name "MyUser/app" must be lower case', 'a registry host has a "." or ":port"']],
    ['alpine:', ['nothing follows ":"', 'a tag is 1 to 128 letters, digits']],
    ['alpine:.hidden', ['".hidden" is not a valid tag', 'does not start with "." or "-"']],
    ['alpine:-x', ['"-x" is not a valid tag']],
    ['alpine:a+b', ['"a+b" is not a valid tag']],
    [`alpine:${'t'.repeat(129)}`, ['is not a valid tag', '1 to 128']],
    [':latest', ['the repository name is missing']],
    ['ghcr.io/', ['the repository name is missing']],
    ['ghcr.io/:1', ['the repository name is missing']],
    [`@${D}`, ['the repository name is missing']],
    ['ghcr.io//app', ['empty part', 'doubled "/"']],
    ['/app', ['empty part']],
    ['ghcr.io/acme/app/', ['empty part']],
    ['ghcr.io/acme/-app', ['"-app" is not a valid repository name part', 'lower-case letters and digits, joined by ".", "_", "__" or "-"']],
    ['ghcr.io/acme/app.', ['"app." is not a valid repository name part']],
    ['ghcr.io/acme/a___b', ['"a___b" is not a valid repository name part']],
    ['ghcr.io/acme/a..b', ['"a..b" is not a valid repository name part']],
    ['ghcr.io/acme/ü', ['"ü" is not a valid repository name part']],
    ['-host.com/app', ['"-host.com" is not a valid registry host[:port]', 'optionally followed by ":port"']],
    ['host.com:/app', ['"host.com:" is not a valid registry host[:port]']],
    ['host.com:http/app', ['"host.com:http" is not a valid registry host[:port]']],
    ['[::1/app', ['is not a valid registry host[:port]']],
    ['[fe80::1%eth0]:5000/app', ['is not a valid registry host[:port]']],
    ['a_b.c/d', ['"a_b.c" is not a valid registry host[:port]']],
    ['[0]/a', ['"[0]" is not a valid repository name part']],
    ['alpine@', ['nothing follows "@"', 'sha256: followed by 64 lower-case hex characters']],
    ['alpine@sha256:abc', ['"sha256:abc" is not a sha256 digest', '64 lower-case hex']],
    [`alpine@sha256:${'A'.repeat(64)}`, ['is not a sha256 digest', 'lower-case hex']],
    [`alpine@sha256:${'a'.repeat(65)}`, ['is not a sha256 digest']],
    [`alpine@sha512:${'a'.repeat(128)}`, ['uses the algorithm "sha512"', 'only sha256 digests']],
    [`alpine@${'a'.repeat(64)}`, ['is not a sha256 digest']],
    [`alpine@${D}@${D}`, ['is not a sha256 digest']],
    [`alpine@${D}:tag`, ['is not a sha256 digest']],
    ['a'.repeat(64), ['image ID, not a reference', 'repository@sha256:']],
    [`ghcr.io/${'a'.repeat(256)}`, ['is 256 characters long', `at most ${MAX_REPOSITORY_LENGTH}`]],
    ['a'.repeat(248), ['is 256 characters long']], // library/ counts, as in docker
  ])('%j', (input, fragments) => {
    const error = parseError(input);
    expect(error).toBeInstanceOf(ManifestMergeError);
    expect(error.code).toBe('REFERENCE');
    expect(error.message).toContain(`Invalid image reference "${input}"`);
    for (const fragment of fragments) expect(error.message).toContain(fragment);
    expect(error.message).toContain('Expected [registry[:port]/]repository[:tag][@sha256:digest]');
    expect(oracle(input)).toBeUndefined();
  });

  it('accepts a repository path of exactly 255 characters, domain not counted', () => {
    const path = `${'a'.repeat(100)}/${'b'.repeat(154)}`;
    expect(path).toHaveLength(255);
    const host = `${'h'.repeat(60)}.example.com:5000`;
    expect(parseReference(`${host}/${path}:t`)).toStrictEqual({ registry: host, repository: path, tag: 't' });
    expect(parseReference('a'.repeat(247)).repository).toHaveLength(255);
  });
});

describe('intentional divergences from the bare grammar (each row matches ReferenceRegexp)', () => {
  it.each<[string, string, string]>([
    ['1: surrounding white space is ignored', ' alpine\t', 'docker.io/library/alpine'],
    ['5: hosts are lower-cased', 'Registry.Example.COM:5000/app', 'registry.example.com:5000/app'],
    ['5: registry-1.docker.io is Docker Hub, like index.docker.io', 'registry-1.docker.io/alpine', 'docker.io/library/alpine'],
  ])('%s: %j is accepted as %s', (_why, input, normalised) => {
    expect(REFERENCE_REGEXP.test(input.trim())).toBe(true);
    expect(formatReference(parseReference(input))).toBe(normalised);
  });

  it.each<[string, string, string]>([
    ['2: only sha256, lower-case hex', `alpine@sha256:${'A'.repeat(64)}`, 'is not a sha256 digest'],
    ['2: only sha256 (the client verifies with sha256)', `alpine@sha512:${'b'.repeat(128)}`, 'only sha256 digests'],
    ['2: unknown algorithms', `alpine@md5:${'c'.repeat(32)}`, 'uses the algorithm "md5"'],
    ['3: a first part with "." must be a host', 'a_b.c/d', '"a_b.c" is not a valid registry host'],
    ['4: an upper-case first part is a repository name, not a host', 'MyUser/app', 'must be lower case'],
    ['4: ... also with a Hub-looking path', 'Foo/bar:1', 'must be lower case'],
    ['docker: bare image ID', 'f'.repeat(64), 'image ID'],
    ['docker: path over 255 after library/', 'a'.repeat(250), 'characters long'],
  ])('%s: %j is refused', (_why, input, fragment) => {
    expect(REFERENCE_REGEXP.test(input)).toBe(true);
    expect(() => parseReference(input)).toThrow(fragment);
  });
});

// ---------------------------------------------------------------------------
// Property-based: generated from the grammar, and arbitrary strings against the oracle.
// ---------------------------------------------------------------------------
const chars = (alphabet: string, minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet.split('')), minLength, maxLength });
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ALNUM = `${LOWER_ALNUM}ABCDEFGHIJKLMNOPQRSTUVWXYZ`;
const HEX = '0123456789abcdef';

const alnumArb = chars(LOWER_ALNUM, 1, 6);
const separatorArb = fc.constantFrom('.', '_', '__', '-', '--', '---');
const pathComponentArb = fc
  .tuple(alnumArb, fc.array(fc.tuple(separatorArb, alnumArb), { maxLength: 3 }))
  .map(([head, tail]) => head + tail.map(([s, a]) => s + a).join(''));
const pathArb = fc.array(pathComponentArb, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const domainComponentArb = fc.oneof(
  chars(ALNUM, 1, 1),
  fc.tuple(chars(ALNUM, 1, 1), chars(`${ALNUM}-`, 0, 6), chars(ALNUM, 1, 1)).map((p) => p.join('')),
);
const portArb = fc.option(
  fc.integer({ min: 0, max: 65535 }).map((p) => `:${p}`),
  { nil: '' },
);
const hostArb = fc.oneof(
  // a domain docker recognises as one: it has a "." (or a port, added below)
  fc.array(domainComponentArb, { minLength: 2, maxLength: 4 }).map((parts) => parts.join('.')),
  fc.constantFrom('localhost', 'docker.io', 'index.docker.io', 'registry-1.docker.io', 'ghcr.io', 'public.ecr.aws'),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((n) => n.join('.')),
  fc.tuple(chars(`${HEX}ABCDEF:`, 0, 6), chars(`${HEX}ABCDEF:`, 0, 6)).map(([a, b]) => `[${a}:${b}]`), // docker needs a ":" to see a host
);
const registryArb = fc.oneof(
  fc.tuple(hostArb, portArb).map(([h, p]) => h + p),
  fc.tuple(domainComponentArb, fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`), // single label: port needed
);
const tagArb = fc.stringMatching(/^[\w][\w.-]{0,127}$/);
const digestArb = chars(HEX, 64, 64).map((hex) => `sha256:${hex}`);

interface Generated {
  text: string;
  expected: ImageReference;
}
const referenceArb: fc.Arbitrary<Generated> = fc
  .record({
    registry: fc.option(registryArb, { nil: undefined }),
    path: pathArb,
    tag: fc.option(tagArb, { nil: undefined }),
    digest: fc.option(digestArb, { nil: undefined }),
  })
  .map(({ registry, path: rawPath, tag, digest }) => {
    // Without a registry, a first part with "." would be read as one (docker's rule).
    const path =
      registry === undefined && rawPath.includes('/') ? rawPath.replace(/^[^/]*/, (first) => first.replace(/\./g, '-')) : rawPath;
    let text = registry === undefined ? path : `${registry}/${path}`;
    if (tag !== undefined) text += `:${tag}`;
    if (digest !== undefined) text += `@${digest}`;
    let host = registry === undefined ? DOCKER_HUB : registry.toLowerCase();
    if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = DOCKER_HUB;
    const expected: ImageReference = { registry: host, repository: host === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path };
    if (tag !== undefined) expected.tag = tag;
    if (digest !== undefined) expected.digest = digest;
    return { text, expected };
  });

/** Small edits of a valid reference: where parsers disagree if they disagree at all. */
const EDIT_ALPHABET = 'aZ09._-:/@[]% \t'.split('');
const mutatedArb = fc
  .tuple(referenceArb, fc.nat(), fc.constantFrom('insert', 'delete', 'replace', 'upper', 'double'), fc.constantFrom(...EDIT_ALPHABET))
  .map(([{ text }, n, edit, c]) => {
    const at = n % (text.length + 1);
    switch (edit) {
      case 'insert':
        return text.slice(0, at) + c + text.slice(at);
      case 'delete':
        return text.slice(0, at) + text.slice(at + 1);
      case 'replace':
        return text.slice(0, at) + c + text.slice(at + 1);
      case 'upper':
        return text.slice(0, at) + text.slice(at).toUpperCase();
      default:
        return text.slice(0, at) + text.slice(at, at + 1).repeat(3) + text.slice(at + 1);
    }
  });

/** The error `f` throws (expect(...).toThrow is too slow for thousands of runs). */
function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

function parsesLikeOracle(input: string): void {
  const expected = oracle(input);
  if (expected === undefined) {
    expect(thrownBy(() => parseReference(input))).toBeInstanceOf(InvalidReferenceError);
  } else {
    expect(formatReference(parseReference(input))).toBe(expected);
  }
}

describe('parseReference: properties', () => {
  it('accepts every reference generated from the grammar, with the expected parts', () => {
    fc.assert(
      fc.property(referenceArb, ({ text, expected }) => {
        expect(parseReference(text)).toStrictEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('formatReference(parseReference(x)) is the normalised form, and a fixed point', () => {
    fc.assert(
      fc.property(referenceArb, ({ text }) => {
        const formatted = formatReference(parseReference(text));
        expect(formatted).toBe(oracle(text));
        expect(formatReference(parseReference(formatted))).toBe(formatted);
        expect(parseReference(formatted)).toStrictEqual(parseReference(text));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the oracle on strings the grammar matches (fc.stringMatching(ReferenceRegexp))', () => {
    fc.assert(fc.property(fc.stringMatching(REFERENCE_REGEXP, { size: 'small' }), parsesLikeOracle), { numRuns: 400 });
  });

  it('agrees with the oracle on small edits of valid references', () => {
    fc.assert(fc.property(mutatedArb, parsesLikeOracle), { numRuns: 1000 });
  });

  it('agrees with the oracle on strings over the reference alphabet', () => {
    fc.assert(fc.property(chars('ab0Z.-_:/@[] ', 0, 16), parsesLikeOracle), { numRuns: 1000 });
  });

  it('agrees with the oracle on arbitrary strings, and only ever throws InvalidReferenceError', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), parsesLikeOracle), { numRuns: 300 });
  });

  it('agrees with the oracle around the 255-character limit, with and without a registry', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 230, max: 270 }),
        fc.option(registryArb, { nil: undefined }),
        fc.boolean(),
        (length, registry, nested) => {
          const path = nested ? `ns/${'x'.repeat(length - 3)}` : 'x'.repeat(length);
          parsesLikeOracle(registry === undefined ? path : `${registry}/${path}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('helpers', () => {
  it.each<[ImageReference, string]>([
    [{ registry: 'docker.io', repository: 'library/alpine' }, 'docker.io/library/alpine'],
    [{ registry: 'ghcr.io', repository: 'a/b', tag: '1' }, 'ghcr.io/a/b:1'],
    [{ registry: 'ghcr.io', repository: 'a/b', digest: D }, `ghcr.io/a/b@${D}`],
    [{ registry: '[::1]:5000', repository: 'x', tag: 't', digest: D }, `[::1]:5000/x:t@${D}`],
  ])('formatReference(%j) = %s', (reference, text) => {
    expect(formatReference(reference)).toBe(text);
  });

  it('formatRepository drops tag and digest', () => {
    expect(formatRepository(parseReference(`ghcr.io/a/b:1@${D}`))).toBe('ghcr.io/a/b');
  });

  it.each<[string, string]>([
    ['alpine', 'latest'],
    ['alpine:3', '3'],
    [`alpine@${D}`, D],
    [`alpine:3@${D}`, D],
  ])('manifestReference(%s) = %s', (input, expected) => {
    expect(manifestReference(parseReference(input))).toBe(expected);
  });

  it.each<[string, string, boolean]>([
    ['alpine', 'docker.io/library/alpine:3', true],
    ['index.docker.io/library/alpine', 'alpine', true],
    ['ghcr.io/a/b:1', `ghcr.io/a/b@${D}`, true],
    ['ghcr.io/a/b', 'ghcr.io/a/c', false],
    ['ghcr.io/a/b', 'docker.io/a/b', false],
    ['localhost:5000/a', 'localhost:5001/a', false],
  ])('sameRepository(%s, %s) = %s', (a, b, same) => {
    expect(sameRepository(parseReference(a), parseReference(b))).toBe(same);
  });
});

describe('parseReference: a password in a mistyped reference is never quoted back', () => {
  const CREDENTIALS =
    'a user name or password ("…@" before the registry) does not belong in a reference; write host/repository, and log in to the registry instead';
  const messageOf = (input: string): string => parseError(input).message;

  it.each<[string, string]>([
    // no scheme: the user part is taken for a name, the host part for a digest
    ['user:s3cretpass@ghcr.io/acme/app:1', `Invalid image reference "***@ghcr.io/acme/app:1": ${CREDENTIALS}`],
    ['user:s3cret@pass@ghcr.io/acme/app', `Invalid image reference "***@ghcr.io/acme/app": ${CREDENTIALS}`],
    ['s3crettoken@registry.example.com:5000/app', `Invalid image reference "***@registry.example.com:5000/app": ${CREDENTIALS}`],
    ['user:s3cretpass@registry.example.com:5000', `Invalid image reference "***@registry.example.com:5000": ${CREDENTIALS}`],
    // with a scheme
    ['https://user:s3cretpass@ghcr.io/acme/app:1', 'Invalid image reference "https://***@ghcr.io/acme/app:1": leave out the scheme'],
    ['//user:s3cretpass@ghcr.io/acme/app:1', `Invalid image reference "//***@ghcr.io/acme/app:1": ${CREDENTIALS}`],
  ])('%s', (input, expected) => {
    const message = messageOf(input);
    expect(message).not.toMatch(/s3cret/);
    expect(message).not.toMatch(/user:/);
    expect(message).toContain(expected);
    // the advice is still there
    expect(message).toContain('Expected [registry[:port]/]repository[:tag][@sha256:digest]');
  });

  it('keeps a reference with a tag and a bad digest whole: nothing there is a password', () => {
    expect(messageOf('alpine:3@sha256:abc')).toContain(
      'Invalid image reference "alpine:3@sha256:abc": "sha256:abc" is not a sha256 digest',
    );
    expect(messageOf(`ghcr.io/acme/app:1@sha512:${'a'.repeat(128)}`)).toContain(
      `Invalid image reference "ghcr.io/acme/app:1@sha512:${'a'.repeat(128)}": digest "sha512:`,
    );
    expect(messageOf('ghcr.io/acme/App@sha256:' + 'a'.repeat(64))).toContain('Invalid image reference "ghcr.io/acme/App@sha256:');
    // any algorithm the digest grammar allows is a digest, not a host: it is refused for what it is
    expect(messageOf(`foo:1@abc+def:${'0'.repeat(32)}`)).toContain(
      `Invalid image reference "foo:1@abc+def:${'0'.repeat(32)}": digest "abc+def:${'0'.repeat(32)}" uses the algorithm "abc+def"`,
    );
  });
});
