// Image reference grammar (distribution/reference) and docker-style normalisation. Pure.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ["/" path-component]*
//   domain    := host [":" port]   host := domain-name | IPv4 | "[" IPv6 "]"
import { ReferenceError } from './errors.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually lives. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** The key docker login writes for Docker Hub in config.json. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

export interface ImageReference {
  /** Registry host as users name it, normalised: `docker.io` for Docker Hub, `ghcr.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/alpine`, `acme/app`. */
  repository: string;
  tag?: string;
  digest?: string;
}

/** A repository on a registry: the unit that blobs and manifests live in. */
export interface RepositoryRef {
  registry: string;
  repository: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const MAX_NAME_LENGTH = 255;

function fail(input: string, why: string): never {
  throw new ReferenceError(`Invalid image reference "${input}": ${why}`, {
    hint: 'Expected [registry[:port]/]repository[:tag][@sha256:digest], e.g. ghcr.io/acme/app:1.0 or ghcr.io/acme/app@sha256:…',
  });
}

function isValidDomain(domain: string): boolean {
  const at = domain.startsWith('[') ? domain.indexOf(']') + 1 : domain.lastIndexOf(':');
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    host = domain.slice(0, at);
    const rest = domain.slice(at);
    if (rest) {
      if (!rest.startsWith(':')) return false;
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) return false;
  } else if (at > 0) {
    host = domain.slice(0, at);
    port = domain.slice(at + 1);
  }
  if (port !== undefined && !/^[0-9]+$/.test(port)) return false;
  return domain.startsWith('[') || DOMAIN_NAME.test(host);
}

/** Docker's rule: the first component is a registry if it has a `.` or `:`, is `localhost`, or has upper case. */
function looksLikeDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.toLowerCase() !== component;
}

/**
 * Parses a reference the way the docker CLI does (ParseNormalizedNamed): a missing registry is
 * Docker Hub, one-part Hub names get `library/`, `index.docker.io` is `docker.io`. A reference
 * with neither tag nor digest gets no tag here; callers decide whether `latest` applies.
 */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (!text) fail(input, 'it is empty');
  if (/\s/.test(text)) fail(input, 'it contains white space');
  if (text.includes('://')) fail(input, 'leave out the scheme (http:// or https://)');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(input, `"${digest}" is not a digest (algorithm:hex)`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) fail(input, `"${digest}" is not a sha256 digest (64 lower-case hex characters)`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(input, `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }

  if (!rest) fail(input, 'the repository name is missing');
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeDomain(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    path = rest.slice(slash + 1);
    if (!isValidDomain(registry)) fail(input, `"${registry}" is not a valid registry host[:port]`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (!path) fail(input, 'the repository name is missing');
  const components = path.split('/');
  for (const component of components) {
    if (!PATH_COMPONENT.test(component)) {
      const why = component.toLowerCase() !== component
        ? `repository name "${path}" must be lower case`
        : `"${component}" is not a valid repository path component`;
      fail(input, why);
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (`${registry}/${path}`.length > MAX_NAME_LENGTH) fail(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);

  const reference: ImageReference = { registry, repository: path };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

/** `registry/repository[:tag][@digest]`, the fully qualified form. */
export function formatReference(reference: ImageReference): string {
  let text = `${reference.registry}/${reference.repository}`;
  if (reference.tag) text += `:${reference.tag}`;
  if (reference.digest) text += `@${reference.digest}`;
  return text;
}

export function formatRepository(repository: RepositoryRef): string {
  return `${repository.registry}/${repository.repository}`;
}

/** The tag or digest to ask the registry for: the digest wins (it is immutable), then the tag, then `latest`. */
export function manifestReference(reference: ImageReference): string {
  return reference.digest ?? reference.tag ?? 'latest';
}

/** Host to open connections to: Docker Hub's API host for docker.io, the registry itself otherwise. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

export function sameRepository(a: RepositoryRef, b: RepositoryRef): boolean {
  return a.registry === b.registry && a.repository === b.repository;
}

/** Loopback hosts may fall back to plain HTTP without being listed as insecure. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.split(':')[0];
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}
