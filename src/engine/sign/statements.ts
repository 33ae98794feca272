// What is signed, and how it is stored next to the index. Pure: JSON shapes only.
//
// - build provenance: an in-toto Statement v1 with the SLSA v1 predicate GitHub's attest action
//   (actions/attest-build-provenance) writes for a workflow run, built from the same claims of
//   the run's OIDC token it reads, with the merged sources (name@digest) among the resolved
//   dependencies; one subject per target repository, each with the index digest;
// - a signature as cosign v3 writes one (`cosign sign --new-bundle-format`): an in-toto statement
//   of predicate type https://sigstore.dev/cosign/sign/v1, its subject the digest alone;
// - the referrer manifest holding a bundle, as both push it (cosign's BUNDLE_SPEC.md): artifactType
//   and layer the bundle media type, the empty config, `subject` the signed manifest, annotations
//   dev.sigstore.bundle.content / .predicateType and org.opencontainers.image.created.
import { SigningError } from '../../base/errors.js';
import { sha256Digest } from '../../oci/digest.js';
import { type Descriptor, MediaType } from '../../oci/manifest.js';
import type { ResolvedSource } from '../model.js';
import { BUNDLE_MEDIA_TYPE } from './keyless.js';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1';
const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

/** The empty JSON config (`{}`) of an artifact manifest (OCI image spec 1.1). */
export const EMPTY_CONFIG = {
  bytes: Buffer.from('{}'),
  descriptor: { mediaType: MediaType.OciEmpty, digest: sha256Digest(Buffer.from('{}')), size: 2 },
};

export interface Subject {
  name?: string;
  digest: string;
}

function inToto(subjects: Subject[], predicateType: string, predicate: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: STATEMENT_V1,
      subject: subjects.map((s) => {
        const [algorithm, hex] = s.digest.split(':');
        return { ...(s.name ? { name: s.name } : {}), digest: { [algorithm]: hex } };
      }),
      predicateType,
      predicate,
    }),
  );
}

/** cosign v3's signature statement for one manifest. */
export function cosignSignStatement(digest: string): Buffer {
  return inToto([{ digest }], COSIGN_SIGN_PREDICATE, {});
}

/** The claims of a GitHub Actions OIDC token that the provenance is made of. */
const REQUIRED_CLAIMS = [
  'workflow_ref',
  'repository',
  'repository_id',
  'repository_owner_id',
  'event_name',
  'sha',
  'job_workflow_ref',
  'run_id',
  'run_attempt',
] as const;

/**
 * SLSA v1 build provenance of a workflow run, as GitHub's attest action builds it from the run's
 * token (`serverUrl`: GITHUB_SERVER_URL), with each merged source as a resolved dependency.
 */
export function provenanceStatement(
  subjects: Subject[],
  claims: Record<string, unknown>,
  serverUrl: string,
  sources: ResolvedSource[],
): Buffer {
  const missing = REQUIRED_CLAIMS.filter((c) => typeof claims[c] !== 'string');
  if (missing.length > 0)
    throw new SigningError(`attest: the identity token lacks the claims of a GitHub Actions token (${missing.join(', ')})`, {
      hint: 'Build provenance describes a workflow run: attest in GitHub Actions with the `id-token` permission set to `write`, or give a token the Actions runtime issued',
    });
  const claim = (name: (typeof REQUIRED_CLAIMS)[number]) => claims[name] as string;
  const server = serverUrl.replace(/\/+$/, '');
  const workflowRef = claim('workflow_ref');
  const repository = claim('repository');
  // workflow_ref: OWNER/REPO/PATH@REF
  const at = workflowRef.indexOf('@');
  const path = workflowRef.slice(0, at < 0 ? undefined : at).slice(repository.length + 1);
  const ref = at < 0 ? '' : workflowRef.slice(at + 1);
  const predicate = {
    buildDefinition: {
      buildType: GITHUB_WORKFLOW_BUILD_TYPE,
      externalParameters: { workflow: { ref, repository: `${server}/${repository}`, path } },
      internalParameters: {
        github: {
          event_name: claim('event_name'),
          repository_id: claim('repository_id'),
          repository_owner_id: claim('repository_owner_id'),
          ...(typeof claims.runner_environment === 'string' ? { runner_environment: claims.runner_environment } : {}),
        },
      },
      resolvedDependencies: [
        { uri: `git+${server}/${repository}@${typeof claims.ref === 'string' ? claims.ref : ref}`, digest: { gitCommit: claim('sha') } },
        ...sources.map((s) => {
          const [algorithm, hex] = s.digest.split(':');
          const name = `${s.repository.registry}/${s.repository.repository}`;
          return { uri: `oci://${name}@${s.digest}`, name: `${name}@${s.digest}`, digest: { [algorithm]: hex } };
        }),
      ],
    },
    runDetails: {
      builder: { id: `${server}/${claim('job_workflow_ref')}` },
      metadata: { invocationId: `${server}/${repository}/actions/runs/${claim('run_id')}/attempts/${claim('run_attempt')}` },
    },
  };
  return inToto(subjects, SLSA_PROVENANCE_V1, predicate);
}

/** A referrer manifest holding one bundle, `subject` the manifest it signs or attests. */
export function bundleManifest(
  bundle: { bytes: Buffer; digest: string },
  subject: Descriptor,
  predicateType: string,
  created: Date,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: BUNDLE_MEDIA_TYPE,
      config: EMPTY_CONFIG.descriptor,
      layers: [
        {
          mediaType: BUNDLE_MEDIA_TYPE,
          digest: bundle.digest,
          size: bundle.bytes.byteLength,
          annotations: { 'org.opencontainers.image.title': `${bundle.digest.replace(':', '-')}.sigstore.json` },
        },
      ],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': predicateType,
        'org.opencontainers.image.created': created.toISOString(),
      },
    }),
  );
}
