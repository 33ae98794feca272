// `signing-config`: a private Sigstore described the way Sigstore's clients are told where to sign,
// a SigningConfig v0.2 (signing_config.json, `application/vnd.dev.sigstore.signingconfig.v0.2+json`,
// protobuf-specs' SigningConfig in its JSON form). Of it the signer needs the services: a
// certificate authority (`caUrls`, Fulcio API v1), a timestamp authority (`tsaUrls`, API v1) and
// the transparency log (`rekorTlogUrls`: Rekor v2, the one this version writes to). Of each kind
// the first service valid now (`validFor`) with an API version this version speaks is taken, as
// Sigstore's clients do with selector ANY. Read and checked with the other fields, before any
// request.
import { InputError } from '../base/errors.js';
import { readBoundedFile } from '../base/files.js';

export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
const MAX_BYTES = 1024 * 1024;

export interface SigningServices {
  fulcioUrl?: string;
  tsaUrl?: string;
  rekorUrl?: string;
}

interface Service {
  url?: unknown;
  majorApiVersion?: unknown;
  validFor?: { start?: unknown; end?: unknown };
}

/** The services of the signing config at `path` (`label` names the field), valid at `now`; a Rekor v1 only is refused unless `rekor-url` replaces it. */
export function readSigningConfig(label: string, path: string, now = new Date(), given: { rekorUrlGiven?: boolean } = {}): SigningServices {
  const hint = `Give the path of a Sigstore signing config (${SIGNING_CONFIG_MEDIA_TYPE}), e.g. the signing_config.json of your Sigstore's TUF repository`;
  const bytes = readBoundedFile(label, path, { maxBytes: MAX_BYTES, hint });
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new InputError(`${label}: "${path}" is not JSON`, { cause, hint });
  }
  if (typeof config !== 'object' || config === null || config.mediaType !== SIGNING_CONFIG_MEDIA_TYPE)
    throw new InputError(
      `${label}: "${path}" is not a signing config v0.2 (its mediaType is ${JSON.stringify((config as { mediaType?: unknown } | null)?.mediaType)}, not ${SIGNING_CONFIG_MEDIA_TYPE})`,
      { hint },
    );
  const pick = (key: string, versions: number[]): { url?: string; skipped: number[] } => {
    const list = config[key];
    if (list === undefined) return { skipped: [] };
    if (!Array.isArray(list)) throw new InputError(`${label}: "${path}": \`${key}\` is not a list`, { hint });
    const valid = (list as Service[]).filter((s) => {
      if (typeof s?.url !== 'string') throw new InputError(`${label}: "${path}": an entry of \`${key}\` has no \`url\``, { hint });
      const start = typeof s.validFor?.start === 'string' ? Date.parse(s.validFor.start) : -Infinity;
      const end = typeof s.validFor?.end === 'string' ? Date.parse(s.validFor.end) : Infinity;
      return start <= now.getTime() && now.getTime() < end;
    });
    const speaks = valid.find((s) => versions.includes(Number(s.majorApiVersion ?? 1)));
    return {
      ...(speaks ? { url: checkedUrl(label, path, key, speaks.url as string) } : {}),
      skipped: valid.filter((s) => s !== speaks).map((s) => Number(s.majorApiVersion ?? 1)),
    };
  };
  const ca = pick('caUrls', [1]);
  const tsa = pick('tsaUrls', [1]);
  const rekor = pick('rekorTlogUrls', [2]);
  if (!ca.url) throw new InputError(`${label}: "${path}" names no certificate authority valid now (\`caUrls\`, API version 1)`, { hint });
  if (!tsa.url)
    throw new InputError(`${label}: "${path}" names no timestamp authority valid now (\`tsaUrls\`, API version 1)`, {
      hint: 'Keyless signing here needs a timestamp authority (the proof of time); add one to the signing config',
    });
  if (!rekor.url && rekor.skipped.length > 0 && !given.rekorUrlGiven)
    throw new InputError(
      `${label}: "${path}" names only Rekor v${[...new Set(rekor.skipped)].join(', v')} as its transparency log, and this version writes to Rekor v2 only`,
      { hint: 'Add a Rekor v2 (rekor-tiles, majorApiVersion 2) to `rekorTlogUrls`, or give `rekor-url` of one' },
    );
  return { fulcioUrl: ca.url, tsaUrl: tsa.url, ...(rekor.url ? { rekorUrl: rekor.url } : {}) };
}

function checkedUrl(label: string, path: string, key: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:')
    throw new InputError(`${label}: "${path}": ${key} has ${JSON.stringify(value)}, not an http(s) URL`);
  return url.href;
}
