// Keyless signing, as Sigstore's clients do it: a fresh P-256 key for this run, a Fulcio
// certificate binding it to the run's OIDC identity (proof of possession: the token's subject,
// signed), DSSE envelopes signed with it, each signature timestamped by the TSA (RFC 3161) and,
// with a Rekor v2, logged there (a hashedrekord entry over the envelope's PAE), all
// in a Sigstore bundle v0.3 (the TSA's TimeStampResp, DER, as `signedTimestamp`) (`application/vnd.dev.sigstore.bundle.v0.3+json`; protobuf-specs'
// Bundle in its JSON form). The private key never leaves this object and is never logged.
import { X509Certificate, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { SigningError } from '../../base/errors.js';
import type { ServiceSender } from '../../registry/client-types.js';
import { fulcioCertificate, rekorEntry, timestamp } from '../../registry/sigstore/services.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Where the run signs: the CA, the proof of time (a TSA), and when given the transparency log (Rekor v2). */
export interface SigstoreEndpoints {
  fulcioUrl: string;
  tsaUrl: string;
  /** Rekor v2: every bundle gets an entry (with its inclusion proof); unset: none */
  rekorUrl?: string;
  /** which instance, for the report: `github` (Fulcio + TSA), or `custom` */
  instance: 'github' | 'custom';
}

/** A Sigstore bundle v0.3 with a DSSE envelope, as JSON. */
export interface SigstoreBundle {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  verificationMaterial: {
    certificate: { rawBytes: string };
    tlogEntries: Array<Record<string, unknown>>;
    timestampVerificationData: { rfc3161Timestamps: Array<{ signedTimestamp: string }> };
  };
  dsseEnvelope: { payload: string; payloadType: string; signatures: Array<{ sig: string; keyid: string }> };
}

/** The claims of a JWT (not verified here: Fulcio verifies the token). */
export function tokenClaims(token: string): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new SigningError('The identity token is not a JWT (three dot-separated parts)');
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (typeof claims === 'object' && claims !== null && !Array.isArray(claims)) return claims as Record<string, unknown>;
  } catch {
    // below
  }
  throw new SigningError('The identity token is not a JWT: its payload is not a JSON object');
}

/** DSSE's pre-authentication encoding: what is signed. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export class KeylessSigner {
  private constructor(
    private readonly key: KeyObject,
    /** the certificate chain Fulcio issued, PEM, leaf first */
    readonly chain: string[],
    /** the certificate's identity (SAN) and issuer, for the report and the verify commands */
    readonly identity: { san: string; issuer: string },
    private readonly sender: ServiceSender,
    private readonly endpoints: SigstoreEndpoints,
  ) {}

  /** A key, and Fulcio's certificate for it and the identity in `token`. */
  static async start(sender: ServiceSender, endpoints: SigstoreEndpoints, token: string): Promise<KeylessSigner> {
    const claims = tokenClaims(token);
    // Fulcio's challenge: the email claim for email identities, else `sub`
    const challenge = typeof claims.email === 'string' ? claims.email : typeof claims.sub === 'string' ? claims.sub : undefined;
    if (!challenge) throw new SigningError('The identity token has no `sub` claim: Fulcio cannot bind a certificate to it');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const proof = sign('sha256', Buffer.from(challenge, 'utf8'), privateKey);
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const chain = await fulcioCertificate(sender, endpoints.fulcioUrl, token, pem, proof);
    const leaf = new X509Certificate(chain[0]);
    if (!leaf.publicKey.equals(publicKey))
      throw new SigningError(`The signing certificate from ${endpoints.fulcioUrl} is not for the key this run sent`);
    return new KeylessSigner(
      privateKey,
      chain,
      { san: sanOf(leaf), issuer: issuerOf(leaf) ?? String(claims.iss ?? '') },
      sender,
      endpoints,
    );
  }

  /** The certificate carries a signed certificate timestamp (a CT log saw it): verifiers can check it. */
  get hasSct(): boolean {
    // the embedded SCT list extension, 1.3.6.1.4.1.11129.2.4.2
    return new X509Certificate(this.chain[0]).raw.includes(Buffer.from('060a2b06010401d679020402', 'hex'));
  }

  /** A DSSE envelope of `payload`, signed and timestamped, in a bundle. */
  async signDsse(payloadType: string, payload: Buffer): Promise<SigstoreBundle> {
    const signature = sign('sha256', pae(payloadType, payload), this.key);
    const leaf = new X509Certificate(this.chain[0]);
    const { rekorUrl } = this.endpoints;
    const [signed, entry] = await Promise.all([
      timestamp(this.sender, this.endpoints.tsaUrl, createHash('sha256').update(signature).digest()),
      rekorUrl
        ? rekorEntry(this.sender, rekorUrl, {
            digest: createHash('sha256').update(pae(payloadType, payload)).digest(),
            signature,
            certificate: leaf.raw,
          })
        : undefined,
    ]);
    return {
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: {
        certificate: { rawBytes: leaf.raw.toString('base64') },
        tlogEntries: entry ? [entry] : [],
        timestampVerificationData: { rfc3161Timestamps: [{ signedTimestamp: signed.toString('base64') }] },
      },
      dsseEnvelope: { payload: payload.toString('base64'), payloadType, signatures: [{ sig: signature.toString('base64'), keyid: '' }] },
    };
  }
}

/** The certificate's SAN: a URI (a workflow), else an email. */
function sanOf(cert: X509Certificate): string {
  const san = cert.subjectAltName ?? '';
  const uri = /URI:([^,]+)/.exec(san)?.[1];
  const email = /email:([^,]+)/.exec(san)?.[1];
  return (uri ?? email ?? san).trim();
}

/** Fulcio's OIDC issuer extension (1.3.6.1.4.1.57264.1.8, a DER UTF8String; 1.3.6.1.4.1.57264.1.1, raw, in older certificates). */
function issuerOf(cert: X509Certificate): string | undefined {
  const raw = cert.raw;
  for (const [oid, wrapped] of [
    ['060a2b0601040183bf300108', true],
    ['060a2b0601040183bf300101', false],
  ] as const) {
    const at = raw.indexOf(Buffer.from(oid, 'hex'));
    if (at < 0) continue;
    // the extension's value: OCTET STRING (04 len), short lengths only (an issuer URL is short)
    let i = at + oid.length / 2;
    if (raw[i] !== 0x04 || raw[i + 1] & 0x80) continue;
    let length = raw[i + 1];
    i += 2;
    if (wrapped) {
      if (raw[i] !== 0x0c || raw[i + 1] & 0x80) continue;
      length = raw[i + 1];
      i += 2;
    }
    return raw.subarray(i, i + length).toString('utf8');
  }
  return undefined;
}
