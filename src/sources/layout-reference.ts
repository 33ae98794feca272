// `oci-layout://PATH[:TAG|@DIGEST]` sources, as buildx names them (`--build-context
// name=oci-layout://…`). A layout source is carried through the engine as an ImageReference on a
// pseudo-registry that no host name can spell, so resolve, plan and transfer treat it like any
// other source; the layout client (layout-client.ts) answers for that registry from disk.
import { InputError } from '../base/errors.js';
import type { ImageReference, RepositoryRef } from '../oci/reference.js';
import { isSha256Digest } from '../oci/digest.js';

export const LAYOUT_SCHEME = 'oci-layout://';
/** `formatRepository` of a layout gives back `oci-layout://PATH`, as written. */
export const LAYOUT_REGISTRY = 'oci-layout:/';

const TAG = /^[\w][\w.-]{0,127}$/;

export function isLayoutSource(text: string): boolean {
  return text.startsWith(LAYOUT_SCHEME);
}

export function isLayoutRepository(repository: RepositoryRef): boolean {
  return repository.registry === LAYOUT_REGISTRY;
}

/** `oci-layout://out.tar:v1` → path `out.tar`, tag `v1`; a `:` in the last path segment that is not a tag stays in the path. */
export function parseLayoutSource(text: string, label: string): ImageReference {
  let path = text.slice(LAYOUT_SCHEME.length);
  let tag: string | undefined;
  let digest: string | undefined;
  const at = path.lastIndexOf('@');
  if (at !== -1 && path.slice(at + 1).includes(':')) {
    digest = path.slice(at + 1);
    if (!isSha256Digest(digest)) {
      throw new InputError(`${label}: "${text}" ends in "@${digest}", which is not a sha256 digest`, {
        hint: 'Write oci-layout://PATH@sha256:<64 hex characters>, oci-layout://PATH:NAME, or oci-layout://PATH',
      });
    }
    path = path.slice(0, at);
  } else {
    const colon = path.lastIndexOf(':');
    if (colon > path.lastIndexOf('/') && TAG.test(path.slice(colon + 1))) {
      tag = path.slice(colon + 1);
      path = path.slice(0, colon);
    }
  }
  if (path === '')
    throw new InputError(`${label}: "${text}" names no path`, {
      hint: 'Write oci-layout://PATH (a layout directory, or the .tar buildx wrote), optionally :NAME or @sha256:…',
    });
  return { registry: LAYOUT_REGISTRY, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}
