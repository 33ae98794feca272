// The one request builder: every registry API path is `/v2/<repository>/<path>` built here from
// `{registry, repository, path}`, never by hand elsewhere. Also the scopes a request needs.
import type { RepositoryRef } from '../oci/reference.js';
import type { HttpRequest } from './transport/compose.js';
import type { Scope } from './client-types.js';

export interface RegistryPath extends RepositoryRef {
  /** below the repository: `manifests/<ref>`, `blobs/<digest>`, `blobs/uploads/` */
  path: string;
  /** query parameters, encoded here */
  query?: Record<string, string>;
}

/** `/v2/<repository>/<path>?<query>` for `at`. */
export function registryTarget(at: RegistryPath): string {
  const query = at.query
    ? Object.entries(at.query)
        .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
        .join('&')
    : '';
  return `/v2/${at.repository}/${at.path}${query ? `?${query}` : ''}`;
}

/** A request to the registry API at `at`; `fields` says the rest (method, kind, scopes, what, expect…). */
export function registryRequest(at: RegistryPath, fields: Omit<HttpRequest, 'registry' | 'target'>): HttpRequest {
  return { ...fields, registry: at.registry, target: registryTarget(at), facts: { repository: at.repository, ...fields.facts } };
}

/** A request to an absolute URL the registry handed out (an upload Location). */
export function locationRequest(registry: string, url: string, fields: Omit<HttpRequest, 'registry' | 'target'>): HttpRequest {
  return { ...fields, registry, target: url };
}

/** Appends `name=value` to a URL whose query may already exist, without re-encoding what is there. */
export function appendQuery(url: string, name: string, value: string): string {
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${separator}${name}=${encodeURIComponent(value)}`;
}

export function pull(repository: RepositoryRef): Scope {
  return { repository: repository.repository, actions: ['pull'] };
}

export function pullPush(repository: RepositoryRef): Scope {
  return { repository: repository.repository, actions: ['pull', 'push'] };
}

/** What distribution's token auth asks of a DELETE (and a registry that deletes asks push too). */
export function pullPushDelete(repository: RepositoryRef): Scope {
  return { repository: repository.repository, actions: ['pull', 'push', 'delete'] };
}
