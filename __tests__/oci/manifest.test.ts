import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { ManifestMergeError, TooLargeError, UnsupportedMediaTypeError } from '../../src/base/errors.js';
import {
  ATTESTATION_REFERENCE_TYPE,
  AnnotationKey,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  MediaType,
  blobsOf,
  isAttestationDescriptor,
  isDescriptor,
  isDockerMediaType,
  isImageManifestMediaType,
  isIndexMediaType,
  parseManifest,
  type Descriptor,
  type ImageManifest,
} from '../../src/oci/manifest.js';
import { filledDigest as digest } from '../support/digests.js';

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value, null, 2));

const ociConfig = { mediaType: MediaType.OciConfig, digest: digest('c'), size: 1469 };
const ociLayer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('1'), size: 3623807 };
const dockerConfig = { mediaType: MediaType.DockerConfig, digest: digest('d'), size: 1512 };
const dockerLayer = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: digest('2'), size: 2811969 };

// What `docker buildx build --platform linux/amd64 --push` writes: an index holding the
// image and its attestation manifest.
const buildxIndex = {
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [
    { mediaType: MediaType.OciManifest, digest: digest('a'), size: 1054, platform: { architecture: 'amd64', os: 'linux' } },
    {
      mediaType: MediaType.OciManifest,
      digest: digest('b'),
      size: 566,
      annotations: { [AnnotationKey.ReferenceDigest]: digest('a'), [AnnotationKey.ReferenceType]: ATTESTATION_REFERENCE_TYPE },
      platform: { architecture: 'unknown', os: 'unknown' },
    },
  ],
};
const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: ociConfig,
  layers: [ociLayer],
  annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
};
const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestList,
  manifests: [
    { mediaType: MediaType.DockerManifest, digest: digest('e'), size: 528, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
    {
      mediaType: MediaType.DockerManifest,
      digest: digest('f'),
      size: 528,
      platform: { architecture: 'amd64', os: 'windows', 'os.version': '10.0.20348.2113', 'os.features': ['win32k'] },
    },
  ],
};
const dockerManifest = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config: dockerConfig, layers: [dockerLayer] };
const { mediaType: _index, ...bareIndex } = buildxIndex;
const { mediaType: _image, ...bareManifest } = ociManifest;
const schema1 = {
  schemaVersion: 1,
  name: 'library/hello-world',
  tag: 'latest',
  architecture: 'amd64',
  fsLayers: [{ blobSum: digest('0') }],
  history: [{ v1Compatibility: '{}' }],
};

describe('parseManifest: every manifest type we read', () => {
  it.each<[string, unknown, string | undefined, 'index' | 'image', string]>([
    ['buildx OCI index', buildxIndex, MediaType.OciIndex, 'index', MediaType.OciIndex],
    ['OCI image manifest', ociManifest, MediaType.OciManifest, 'image', MediaType.OciManifest],
    ['Docker manifest list', dockerList, MediaType.DockerManifestList, 'index', MediaType.DockerManifestList],
    ['Docker schema 2 manifest', dockerManifest, MediaType.DockerManifest, 'image', MediaType.DockerManifest],
    ['body mediaType wins over a wrong Content-Type', dockerManifest, 'application/json', 'image', MediaType.DockerManifest],
    ['Content-Type with parameters', ociManifest, `${MediaType.OciManifest}; charset=utf-8`, 'image', MediaType.OciManifest],
    ['OCI index without mediaType, no Content-Type', bareIndex, undefined, 'index', MediaType.OciIndex],
    ['OCI manifest without mediaType, no Content-Type', bareManifest, undefined, 'image', MediaType.OciManifest],
    ['OCI index without mediaType, generic Content-Type', bareIndex, 'application/json', 'index', MediaType.OciIndex],
    ['OCI index without mediaType, Content-Type names it', bareIndex, MediaType.OciIndex, 'index', MediaType.OciIndex],
    ['Docker list shape with its Content-Type', bareIndex, MediaType.DockerManifestList, 'index', MediaType.DockerManifestList],
    ['without mediaType the shape beats a contradicting Content-Type', bareManifest, MediaType.OciIndex, 'image', MediaType.OciManifest],
    ['empty manifests list', { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }, undefined, 'index', MediaType.OciIndex],
    [
      'artifact-style manifest with no layers',
      { ...ociManifest, artifactType: 'application/vnd.example+json', layers: [] },
      undefined,
      'image',
      MediaType.OciManifest,
    ],
  ])('%s', (_name, document, contentType, kind, mediaType) => {
    const parsed = parseManifest(bytes(document), contentType, 'ghcr.io/acme/app:1');
    expect(parsed.kind).toBe(kind);
    expect(parsed.mediaType).toBe(mediaType);
    if (kind === 'index') {
      expect(parsed.index).toStrictEqual(document);
      expect(parsed.image).toBeUndefined();
    } else {
      expect(parsed.image).toStrictEqual(document);
      expect(parsed.index).toBeUndefined();
    }
  });

  it('reads a view into a larger buffer (byteOffset honoured)', () => {
    const inner = bytes(ociManifest);
    const outer = Buffer.concat([Buffer.from('garbage{'), inner, Buffer.from('}trailing')]);
    const view = new Uint8Array(outer.buffer, outer.byteOffset + 8, inner.length);
    expect(parseManifest(view, undefined, 's').image).toStrictEqual(ociManifest);
  });
});

describe('parseManifest: refused documents name the image and say why', () => {
  const subject = 'docker.io/library/hello-world:linux';
  it.each<[string, Uint8Array, string | undefined, string[]]>([
    [
      'schema 1 by schemaVersion',
      bytes(schema1),
      'application/json',
      ['Docker schema 1', 'deprecated', 'Rebuild and push', 'skopeo copy --format v2s2'],
    ],
    ['schema 1 by schemaVersion, no Content-Type', bytes(schema1), undefined, ['Docker schema 1']],
    [
      'schema 1 signed, by Content-Type',
      bytes({ ...schema1, schemaVersion: 2 }),
      MediaType.DockerSchema1Signed,
      ['Docker schema 1', 'schema 2 or OCI'],
    ],
    ['schema 1, by Content-Type', bytes({ ...schema1, schemaVersion: 2 }), MediaType.DockerSchema1, ['Docker schema 1']],
    ['schema 1, by body mediaType', bytes({ ...schema1, mediaType: MediaType.DockerSchema1 }), undefined, ['Docker schema 1']],
    [
      'unknown body type',
      bytes({ schemaVersion: 2, mediaType: 'application/vnd.oci.artifact.manifest.v1+json', blobs: [] }),
      undefined,
      [
        'has media type "application/vnd.oci.artifact.manifest.v1+json"',
        'not an image manifest or index',
        `Supported types: ${MANIFEST_ACCEPT.join(', ')}`,
      ],
    ],
    [
      'config media type as manifest',
      bytes({ schemaVersion: 2, mediaType: MediaType.OciConfig, config: ociConfig, layers: [] }),
      undefined,
      [`has media type "${MediaType.OciConfig}"`],
    ],
    ['no type and no shape', bytes({ schemaVersion: 2 }), undefined, ['has media type "(none)"', 'Supported types']],
    [
      'no type, unknown Content-Type',
      bytes({ schemaVersion: 2, blobs: [] }),
      'application/vnd.foo+json',
      ['has media type "application/vnd.foo+json"'],
    ],
    [
      'both shapes, no type',
      bytes({ schemaVersion: 2, manifests: [], config: ociConfig, layers: [] }),
      undefined,
      ['has media type "(none)"'],
    ],
    ['non-string mediaType', bytes({ ...ociManifest, mediaType: 42 }), undefined, ['"mediaType" is 42, not a string']],
    ['invalid JSON', bytes('{"schemaVersion": 2,'), MediaType.OciIndex, ['not valid JSON']],
    ['HTML error page', bytes('<html><body>502 Bad Gateway</body></html>'), 'text/html', ['not valid JSON']],
    ['empty body', new Uint8Array(0), MediaType.OciManifest, ['not valid JSON']],
    ['JSON array', bytes([buildxIndex]), undefined, ['not a JSON object']],
    ['JSON null', bytes('null'), undefined, ['not a JSON object']],
    ['JSON string', bytes('"manifest"'), undefined, ['not a JSON object']],
    ['schemaVersion 3', bytes({ ...ociManifest, schemaVersion: 3 }), undefined, ['unsupported schemaVersion 3 (expected 2)']],
    ['schemaVersion "2"', bytes({ ...ociManifest, schemaVersion: '2' }), undefined, ['unsupported schemaVersion "2"']],
    ['schemaVersion missing', bytes({ ...ociManifest, schemaVersion: undefined }), undefined, ['unsupported schemaVersion (none)']],
    ['index without manifests', bytes({ schemaVersion: 2, mediaType: MediaType.OciIndex }), undefined, ['index has no "manifests" list']],
    [
      'index manifests not a list',
      bytes({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: {} }),
      undefined,
      ['index has no "manifests" list'],
    ],
    [
      'index entry without digest',
      bytes({ ...buildxIndex, manifests: [{ mediaType: MediaType.OciManifest, size: 1 }] }),
      undefined,
      ['manifests[0] is not a valid descriptor'],
    ],
    [
      'index entry with a bad digest',
      bytes({ ...buildxIndex, manifests: [buildxIndex.manifests[0], { ...buildxIndex.manifests[0], digest: 'sha256:abc' }] }),
      undefined,
      ['manifests[1] is not a valid descriptor'],
    ],
    [
      'index entry with a string size',
      bytes({ ...buildxIndex, manifests: [{ ...buildxIndex.manifests[0], size: '1054' }] }),
      undefined,
      ['manifests[0] is not a valid descriptor'],
    ],
    [
      'index entry with a platform lacking os',
      bytes({ ...buildxIndex, manifests: [{ ...buildxIndex.manifests[0], platform: { architecture: 'amd64' } }] }),
      undefined,
      ['manifests[0] is not a valid descriptor'],
    ],
    [
      'image without config',
      bytes({ schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [] }),
      undefined,
      ['lacks a valid "config" descriptor'],
    ],
    [
      'image with a bad config',
      bytes({ ...ociManifest, config: { ...ociConfig, size: -1 } }),
      undefined,
      ['lacks a valid "config" descriptor'],
    ],
    [
      'image without layers',
      bytes({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: ociConfig }),
      undefined,
      ['lacks a "layers" list'],
    ],
    [
      'image with a bad layer',
      bytes({ ...ociManifest, layers: [ociLayer, { ...ociLayer, mediaType: '' }] }),
      undefined,
      ['layers[1] is not a valid descriptor'],
    ],
    ['bad subject', bytes({ ...ociManifest, subject: { digest: digest('a') } }), undefined, ['"subject" is not a valid descriptor']],
    ['bad annotations', bytes({ ...ociManifest, annotations: { a: 1 } }), undefined, ['"annotations" must map strings to strings']],
  ])('%s', (_name, body, contentType, fragments) => {
    let error: unknown;
    try {
      parseManifest(body, contentType, subject);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    const { code, message } = error as UnsupportedMediaTypeError;
    expect(code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(message).toContain(subject);
    for (const fragment of fragments) expect(message).toContain(fragment);
  });

  it('keeps the JSON error as the cause', () => {
    let error: unknown;
    try {
      parseManifest(bytes('{'), undefined, 's');
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('refuses a manifest over the size limit before parsing it', () => {
    const huge = new Uint8Array(MAX_MANIFEST_BYTES + 1); // all zero bytes: would not even parse
    expect(() => parseManifest(huge, MediaType.OciManifest, 'big')).toThrow(TooLargeError);
    expect(() => parseManifest(huge, MediaType.OciManifest, 'big')).toThrow(`over the ${MAX_MANIFEST_BYTES}-byte limit`);
  });

  it('only ever throws its own errors, whatever the bytes (fuzz)', () => {
    const documents = fc.oneof(
      fc.jsonValue().map((v) => bytes(v)),
      fc
        .record({
          schemaVersion: fc.constantFrom(1, 2, 3, '2'),
          mediaType: fc.option(fc.oneof(fc.constantFrom(...Object.values(MediaType)), fc.jsonValue()), { nil: undefined }),
          manifests: fc.option(fc.array(fc.jsonValue(), { maxLength: 2 }), { nil: undefined }),
          config: fc.option(fc.jsonValue(), { nil: undefined }),
          layers: fc.option(fc.array(fc.jsonValue(), { maxLength: 2 }), { nil: undefined }),
        })
        .map((v) => bytes(v)),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(
        documents,
        fc.option(fc.constantFrom(...Object.values(MediaType), 'text/plain'), { nil: undefined }),
        (body, contentType) => {
          try {
            const parsed = parseManifest(body, contentType, 's');
            return (parsed.kind === 'index') === (parsed.index !== undefined) && (parsed.kind === 'image') === (parsed.image !== undefined);
          } catch (error) {
            return error instanceof ManifestMergeError;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('isDescriptor', () => {
  const base = { mediaType: MediaType.OciManifest, digest: digest('a'), size: 10 };
  it.each<[string, unknown, boolean]>([
    ['minimal', base, true],
    ['zero size', { ...base, size: 0 }, true],
    ['with platform', { ...base, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }, true],
    [
      'with windows platform',
      { ...base, platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2113', 'os.features': ['win32k'] } },
      true,
    ],
    [
      'with annotations, urls, artifactType, data',
      { ...base, annotations: { a: 'b' }, urls: ['https://x'], artifactType: 'application/x', data: 'e30=' },
      true,
    ],
    ['unregistered digest algorithm (spec: allowed)', { ...base, digest: 'blake3:abcdef' }, true],
    ['null', null, false],
    ['array', [base], false],
    ['missing mediaType', { digest: base.digest, size: 1 }, false],
    ['empty mediaType', { ...base, mediaType: '' }, false],
    ['missing digest', { mediaType: base.mediaType, size: 1 }, false],
    ['short sha256', { ...base, digest: 'sha256:abc' }, false],
    ['upper-case sha256', { ...base, digest: `sha256:${'A'.repeat(64)}` }, false],
    ['no algorithm', { ...base, digest: 'a'.repeat(64) }, false],
    ['missing size', { mediaType: base.mediaType, digest: base.digest }, false],
    ['negative size', { ...base, size: -1 }, false],
    ['fractional size', { ...base, size: 1.5 }, false],
    ['string size', { ...base, size: '10' }, false],
    ['huge size', { ...base, size: 2 ** 60 }, false],
    ['platform without os', { ...base, platform: { architecture: 'amd64' } }, false],
    ['platform not an object', { ...base, platform: 'linux/amd64' }, false],
    ['platform variant a number', { ...base, platform: { os: 'linux', architecture: 'arm', variant: 7 } }, false],
    ['platform os.features not a list', { ...base, platform: { os: 'windows', architecture: 'amd64', 'os.features': 'win32k' } }, false],
    ['annotations with a number', { ...base, annotations: { a: 1 } }, false],
    ['annotations a list', { ...base, annotations: ['a'] }, false],
    ['urls a string', { ...base, urls: 'https://x' }, false],
    ['artifactType a number', { ...base, artifactType: 1 }, false],
  ])('%s', (_name, value, valid) => {
    expect(isDescriptor(value)).toBe(valid);
  });
});

describe('media type predicates', () => {
  it.each<[string, boolean, boolean, boolean]>([
    [MediaType.OciIndex, true, false, false],
    [MediaType.DockerManifestList, true, false, true],
    [MediaType.OciManifest, false, true, false],
    [MediaType.DockerManifest, false, true, true],
    [MediaType.DockerSchema1, false, false, false],
    [MediaType.OciConfig, false, false, false],
    ['application/json', false, false, false],
  ])('%s: index %s, image %s, docker %s', (mediaType, index, image, docker) => {
    expect(isIndexMediaType(mediaType)).toBe(index);
    expect(isImageManifestMediaType(mediaType)).toBe(image);
    expect(isDockerMediaType(mediaType)).toBe(docker);
  });

  it('accepts every manifest type we read, never schema 1', () => {
    expect([...MANIFEST_ACCEPT].sort()).toStrictEqual(
      [MediaType.DockerManifest, MediaType.DockerManifestList, MediaType.OciIndex, MediaType.OciManifest].sort(),
    );
  });
});

describe('blobsOf', () => {
  const layer = (c: string, extra: Partial<Descriptor> = {}): Descriptor => ({ ...ociLayer, digest: digest(c), ...extra });
  const image = (config: Descriptor, layers: Descriptor[]): ImageManifest => ({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config,
    layers,
  });
  const foreignUrls = ['https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:…'];

  it.each<[string, ImageManifest, string[]]>([
    [
      'config then layers, in order',
      image(ociConfig, [layer('1'), layer('2'), layer('3')]),
      [digest('c'), digest('1'), digest('2'), digest('3')],
    ],
    ['config only', image(ociConfig, []), [digest('c')]],
    [
      'a repeated layer once (old Docker images repeat the empty layer)',
      image(dockerConfig, [layer('1'), layer('2'), layer('1')]),
      [digest('d'), digest('1'), digest('2')],
    ],
    [
      'the OCI empty descriptor as config and layer once',
      image({ mediaType: MediaType.OciEmpty, digest: digest('4'), size: 2 }, [
        { mediaType: MediaType.OciEmpty, digest: digest('4'), size: 2 },
      ]),
      [digest('4')],
    ],
    [
      'Docker foreign layers with urls skipped (Windows base layers)',
      image(dockerConfig, [
        layer('1', { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', urls: foreignUrls }),
        layer('2', { mediaType: dockerLayer.mediaType }),
      ]),
      [digest('d'), digest('2')],
    ],
    [
      'OCI non-distributable layers with urls skipped',
      image(ociConfig, [
        layer('1', { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', urls: foreignUrls }),
        layer('2'),
      ]),
      [digest('c'), digest('2')],
    ],
    [
      'foreign layers without urls kept (the registry must hold them)',
      image(dockerConfig, [
        layer('1', { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' }),
        layer('2', { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', urls: [] }),
      ]),
      [digest('d'), digest('1'), digest('2')],
    ],
    ['ordinary layers with urls kept', image(ociConfig, [layer('1', { urls: foreignUrls })]), [digest('c'), digest('1')]],
  ])('%s', (_name, manifest, digests) => {
    expect(blobsOf(manifest).map((d) => d.digest)).toStrictEqual(digests);
  });

  it('returns the descriptors themselves', () => {
    const manifest = image(ociConfig, [layer('1')]);
    expect(blobsOf(manifest)).toStrictEqual([ociConfig, manifest.layers[0]]);
  });
});

describe('isAttestationDescriptor', () => {
  const [imageEntry, attestationEntry] = buildxIndex.manifests as Descriptor[];
  it.each<[string, Descriptor, boolean]>([
    ['buildx attestation manifest', attestationEntry, true],
    ['buildx image entry', imageEntry, false],
    ['unknown/unknown without the annotation', { ...imageEntry, platform: { os: 'unknown', architecture: 'unknown' } }, false],
    ['other reference type', { ...attestationEntry, annotations: { [AnnotationKey.ReferenceType]: 'signature' } }, false],
    ['reference digest but no type', { ...attestationEntry, annotations: { [AnnotationKey.ReferenceDigest]: digest('a') } }, false],
    ['no annotations', { mediaType: MediaType.OciManifest, digest: digest('a'), size: 1 }, false],
  ])('%s', (_name, descriptor, expected) => {
    expect(isAttestationDescriptor(descriptor)).toBe(expected);
  });
});
