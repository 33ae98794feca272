// The web services keyless signing talks to, each one documented request through the transport
// (ServiceSender: retries, the run's deadline, stats, the plain-HTTP policy), none through a
// client library of its own:
//
// - the Actions runtime's OIDC token endpoint: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore
//   with `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{"value": "<JWT>"}`
//   (what @actions/core's getIDToken does);
// - Fulcio's REST API v2: POST /api/v2/signingCert with the token, the public key and a proof of
//   possession (the token's `sub` signed) → the certificate chain, PEM, leaf first;
// - a timestamp authority (sigstore/timestamp-authority): POST /api/v1/timestamp with the JSON
//   request (sha256 of the signature) → an RFC 3161 TimeStampResp, DER;
// - Rekor v2 (rekor-tiles), when given: POST /api/v2/log/entries with a hashedrekord v0.0.2
//   request → a TransparencyLogEntry with its inclusion proof and signed checkpoint;
// - GitHub's attestations API: POST /repos/{owner}/{repo}/attestations `{"bundle": …}` → `{"id"}`.
//
// The token and the request token are secrets: they go in headers and bodies, never in a message.
import { SigningError } from '../../base/errors.js';
import { sanitizeLine } from '../../base/redact.js';
import type { ServiceSender } from '../client-types.js';

/** Certificates, timestamps and token answers are small: more is refused. */
const MAX_BYTES = 1024 * 1024;

interface Call {
  sender: ServiceSender;
  service: string;
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  what: string;
}

async function call(c: Call): Promise<{ status: number; bytes: Buffer }> {
  const response = await c.sender.send({
    registry: c.url.host,
    method: c.method,
    url: c.url,
    headers: c.headers,
    body: c.body,
    what: c.what,
    maxBytes: MAX_BYTES,
    plainHttpAllowed: c.sender.plainHttpAllowed(c.url.host),
    kind: `${c.method} ${c.service}`,
    service: c.service,
  });
  return { status: response.status, bytes: response.bytes ?? Buffer.alloc(0) };
}

/** `path` under a service's base URL, which may be given with or without its trailing slash (and may have a path of its own). */
function endpoint(base: string, path: string): URL {
  return new URL(path, base.endsWith('/') ? base : `${base}/`);
}

/** The service's own words, one escaped line of at most 200 characters. */
function said(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const message = [json.message, json.error, json.detail].find((m): m is string => typeof m === 'string');
    if (message) return sanitizeLine(message).slice(0, 200);
  } catch {
    // not JSON
  }
  return sanitizeLine(text).slice(0, 200);
}

function refused(what: string, service: string, url: URL, status: number, bytes: Buffer, hint: string): SigningError {
  const words = said(bytes);
  return new SigningError(`${what}: the ${service} at ${url.origin} answered HTTP ${status}${words ? `: ${words}` : ''}`, {
    status,
    url: `${url.origin}${url.pathname}`,
    hint,
  });
}

/** The workflow's OIDC token for `audience`, from the Actions runtime (needs the `id-token` permission set to `write`). */
export async function actionsIdToken(sender: ServiceSender, requestUrl: string, requestToken: string, audience: string): Promise<string> {
  const url = new URL(requestUrl);
  url.searchParams.set('audience', audience);
  const service = 'Actions OIDC token endpoint';
  const { status, bytes } = await call({
    sender,
    service,
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' },
    what: 'Requesting the workflow identity token',
  });
  if (status !== 200)
    throw refused(
      'Requesting the workflow identity token',
      service,
      url,
      status,
      bytes,
      'Grant the job the `id-token` permission set to `write` (signing is keyless: the token is the identity), then {rerun}',
    );
  const value = (JSON.parse(bytes.toString('utf8')) as { value?: unknown }).value;
  if (typeof value !== 'string' || value.split('.').length !== 3)
    throw new SigningError(`The ${service} answered without a workflow identity token`);
  return value;
}

/** A Fulcio certificate for `publicKeyPem`, bound to the identity in `token`: the chain, PEM, leaf first. */
export async function fulcioCertificate(
  sender: ServiceSender,
  fulcioUrl: string,
  token: string,
  publicKeyPem: string,
  proofOfPossession: Buffer,
): Promise<string[]> {
  const url = endpoint(fulcioUrl, 'api/v2/signingCert');
  const service = 'Fulcio certificate authority';
  const { status, bytes } = await call({
    sender,
    service,
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      credentials: { oidcIdentityToken: token },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: publicKeyPem },
        proofOfPossession: proofOfPossession.toString('base64'),
      },
    }),
    what: 'The signing certificate',
  });
  if (status !== 200 && status !== 201)
    throw refused(
      'The signing certificate',
      service,
      url,
      status,
      bytes,
      status === 401 || status === 403 || status === 400
        ? 'Fulcio refused the identity token. It must come from an issuer this Fulcio trusts, have audience `sigstore` and be unexpired; in GitHub Actions the job needs the `id-token` permission set to `write`'
        : 'Check that `fulcio-url` names a Fulcio and that it is up, then {rerun}',
    );
  const answer = JSON.parse(bytes.toString('utf8')) as {
    signedCertificateEmbeddedSct?: { chain?: { certificates?: unknown } };
    signedCertificateDetachedSct?: { chain?: { certificates?: unknown } };
  };
  const certificates = (answer.signedCertificateEmbeddedSct ?? answer.signedCertificateDetachedSct)?.chain?.certificates;
  if (!Array.isArray(certificates) || certificates.length === 0 || !certificates.every((c) => typeof c === 'string'))
    throw new SigningError(`The signing certificate: the ${service} at ${url.origin} answered without a certificate chain`);
  return certificates as string[];
}

/** An RFC 3161 timestamp (TimeStampResp, DER) over the sha256 of `signature`. */
export async function timestamp(sender: ServiceSender, tsaUrl: string, digest: Buffer): Promise<Buffer> {
  // the service's base URL, or its endpoint as a signing config names it (…/api/v1/timestamp)
  const url = /\/api\/v1\/timestamp\/?$/.test(new URL(tsaUrl).pathname) ? new URL(tsaUrl) : endpoint(tsaUrl, 'api/v1/timestamp');
  const service = 'timestamp authority';
  const { status, bytes } = await call({
    sender,
    service,
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', accept: 'application/timestamp-reply' },
    body: JSON.stringify({ artifactHash: digest.toString('base64'), hashAlgorithm: 'sha256', certificates: true }),
    what: 'The signed timestamp',
  });
  if (status !== 200 && status !== 201)
    throw refused(
      'The signed timestamp',
      service,
      url,
      status,
      bytes,
      'Check that `tsa-url` names a timestamp authority and that it is up, then {rerun}',
    );
  if (bytes.length === 0 || bytes[0] !== 0x30)
    throw new SigningError(`The signed timestamp: the ${service} at ${url.origin} answered no DER timestamp`);
  return bytes;
}

/** Stores `bundle` with GitHub's attestations API for `repository` (owner/name); its id. */
export async function storeAttestation(
  sender: ServiceSender,
  apiUrl: string,
  token: string,
  repository: string,
  bundle: unknown,
): Promise<string> {
  const [owner, name] = repository.split('/');
  const url = endpoint(apiUrl, `repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/attestations`);
  const service = 'GitHub attestations API';
  const { status, bytes } = await call({
    sender,
    service,
    method: 'POST',
    url,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.github+json',
      'content-type': 'application/json',
      'x-github-api-version': '2022-11-28',
    },
    body: JSON.stringify({ bundle }),
    what: `The attestation of ${repository}`,
  });
  if (status !== 200 && status !== 201)
    throw refused(
      `The attestation of ${repository}`,
      service,
      url,
      status,
      bytes,
      status === 401 || status === 403 || status === 404
        ? 'Grant the job `permissions: attestations: write` (and pass `github-token`), then {rerun}'
        : "Check GitHub's status, then {rerun}",
    );
  const id = (JSON.parse(bytes.toString('utf8') || '{}') as { id?: unknown }).id;
  return id === undefined ? '' : String(id);
}

/** What a Rekor v2 hashedrekord entry binds: a digest, the signature over it, and the certificate that verifies it. */
export interface RekorSignature {
  /** sha256 of what was signed (for a DSSE envelope: its pre-authentication encoding) */
  digest: Buffer;
  signature: Buffer;
  /** the signing certificate, DER */
  certificate: Buffer;
}

/**
 * A transparency log entry from Rekor v2 (rekor-tiles): `POST /api/v2/log/entries` with a
 * hashedrekord v0.0.2 request. Rekor v2 logs DSSE envelopes this way too (its `dsse` kind is
 * gone): the digest is sha256 of the envelope's PAE, as sigstore-go does. The answer is the
 * bundle's TransparencyLogEntry (JSON), inclusion proof and signed checkpoint in it.
 */
export async function rekorEntry(sender: ServiceSender, rekorUrl: string, entry: RekorSignature): Promise<Record<string, unknown>> {
  const url = endpoint(rekorUrl, 'api/v2/log/entries');
  const service = 'Rekor transparency log';
  const { status, bytes } = await call({
    sender,
    service,
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      hashedRekordRequestV002: {
        digest: entry.digest.toString('base64'),
        signature: {
          content: entry.signature.toString('base64'),
          verifier: { x509Certificate: { rawBytes: entry.certificate.toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
        },
      },
    }),
    what: 'The transparency log entry',
  });
  if (status !== 200 && status !== 201)
    throw refused(
      'The transparency log entry',
      service,
      url,
      status,
      bytes,
      'Check that `rekor-url` names a Rekor v2 (rekor-tiles: POST /api/v2/log/entries) and that it is up, then {rerun}',
    );
  let answer: unknown;
  try {
    answer = JSON.parse(bytes.toString('utf8'));
  } catch {
    answer = undefined;
  }
  const tle = answer as { logIndex?: unknown; inclusionProof?: { checkpoint?: unknown }; canonicalizedBody?: unknown } | undefined;
  if (
    !tle ||
    typeof tle !== 'object' ||
    tle.logIndex === undefined ||
    !tle.inclusionProof?.checkpoint ||
    typeof tle.canonicalizedBody !== 'string'
  )
    throw new SigningError(`The transparency log entry: the ${service} at ${url.origin} answered without an entry with an inclusion proof`);
  // protobuf JSON's nulls (an absent inclusionPromise) are left out: a bundle names only what it has
  return Object.fromEntries(Object.entries(tle).filter(([, v]) => v !== null && v !== undefined));
}
