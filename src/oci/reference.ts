// Image reference grammar (distribution/reference) and docker-style normalisation. Pure.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [domain "/"] path-component ["/" path-component]*
//   domain    := host [":" port]   host := domain-name | IPv4 | "[" IPv6 "]"
import { InvalidReferenceError } from '../base/errors.js';

import { DOCKER_HUB } from './hosts.js';

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

// Pieces of distribution/reference's grammar (regexp.go), anchored.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_AND_PORT = new RegExp(`^(?:${DOMAIN_NAME_COMPONENT}(?:\\.${DOMAIN_NAME_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
/** distribution's digest production; we then require sha256 (see parseReference). */
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
/** A bare image ID, which docker refuses as a reference. */
const IMAGE_ID = /^[a-f0-9]{64}$/;

/** Longest repository path (after `library/` is added), as distribution/reference checks it. */
export const MAX_REPOSITORY_LENGTH = 255;

const ALLOWED_TAG = 'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"';
const ALLOWED_COMPONENT = 'each "/"-separated part of a repository is lower-case letters and digits, joined by ".", "_", "__" or "-"';
const ALLOWED_HOST = 'a registry is a host name, IPv4 address or [IPv6] address, optionally followed by ":port"';

/** Digest algorithms (go-digest's and the OCI spec's): `name@sha512:…` is a digest, not `user@host`. */
const DIGEST_ALGORITHM = /^(?:sha256|sha384|sha512|sha1|md5|blake3|blake2b)$/i;

/**
 * Where a `user[:password]@` before the registry ends: the index of its `@`, or -1. With or
 * without a scheme (`https://u:p@host/…`, `//u:p@host/…`, `u:p@host/…`): the `@` is the last
 * one before the first `/` after the scheme, unless what follows it is a digest
 * (`alpine@sha256:…`). Without a `/`, `name@…` is taken for userinfo only when it cannot be a
 * name and digest: a `:` before the `@` (`user:password@`), or a host after it.
 */
function userinfoEnd(text: string): { start: number; at: number } | undefined {
  const start = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\//.exec(text)?.[0].length ?? 0;
  const slash = text.indexOf('/', start);
  const authority = slash === -1 ? text.slice(start) : text.slice(start, slash);
  const at = authority.lastIndexOf('@');
  if (at <= 0) return undefined;
  const after = authority.slice(at + 1);
  if (DIGEST.test(after) || (after.includes(':') && DIGEST_ALGORITHM.test(after.slice(0, after.indexOf(':'))))) return undefined;
  if (
    slash === -1 &&
    !authority.slice(0, at).includes(':') &&
    !after.includes('.') &&
    !after.includes(':') &&
    after.toLowerCase() !== 'localhost'
  )
    return undefined;
  return { start, at: start + at };
}

/** `input` as it may be quoted back: a `user:password@` before the registry shown as `***@`. */
function quotable(input: string): string {
  const userinfo = userinfoEnd(input);
  return userinfo ? `${input.slice(0, userinfo.start)}***${input.slice(userinfo.at)}` : input;
}

function fail(input: string, why: string): never {
  throw new InvalidReferenceError(`Invalid image reference "${quotable(input)}": ${why}`, {
    hint: 'Expected [registry[:port]/]repository[:tag][@sha256:digest], e.g. ghcr.io/acme/app:1.0 or ghcr.io/acme/app@sha256:…',
  });
}

function checkDigest(input: string, digest: string): void {
  if (SHA256_DIGEST.test(digest)) return;
  if (!digest) fail(input, 'nothing follows "@"; a digest is sha256: followed by 64 lower-case hex characters');
  const algorithm = digest.includes(':') ? digest.slice(0, digest.indexOf(':')) : '';
  if (DIGEST.test(digest) && algorithm !== 'sha256') {
    fail(
      input,
      `digest "${digest}" uses the algorithm "${algorithm}"; only sha256 digests (sha256: followed by 64 lower-case hex characters) are supported`,
    );
  }
  fail(input, `"${digest}" is not a sha256 digest; a digest is sha256: followed by 64 lower-case hex characters`);
}

function checkPath(input: string, path: string): void {
  if (!path) fail(input, 'the repository name is missing');
  for (const component of path.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (!component) fail(input, `repository name "${path}" has an empty part (a leading, trailing or doubled "/"); ${ALLOWED_COMPONENT}`);
    if (PATH_COMPONENT.test(component.toLowerCase())) fail(input, `repository name "${path}" must be lower case`);
    fail(input, `"${component}" is not a valid repository name part; ${ALLOWED_COMPONENT}`);
  }
}

/**
 * Parses a reference the way the docker CLI does (ParseNormalizedNamed): a missing registry is
 * Docker Hub, one-part Hub names get `library/`, `index.docker.io` is `docker.io`. A reference
 * with neither tag nor digest gets no tag here; callers decide whether `latest` applies.
 *
 * Accepts exactly what distribution/reference's ReferenceRegexp accepts, with docker's extra
 * rules (repository path at most 255 characters after `library/` is added; a bare 64-hex image
 * ID is refused; the first part is a registry only with ".", ":" or as `localhost`, so `[0]/a`
 * is refused) and these intentional differences (each tested in __tests__/reference.test.ts):
 * - surrounding white space is ignored (inputs come from YAML and shell);
 * - the digest must be sha256 with 64 lower-case hex characters (go-digest also refuses
 *   upper-case hex; other algorithms it accepts are refused because every manifest is verified
 *   with sha256);
 * - a first part with "." or ":" (or `localhost`) is always the registry, and must then be a
 *   valid host[:port] (`a_b.c/d`: the bare grammar would read it as a path, docker then keeps
 *   an empty registry);
 * - a first part whose only claim to be a registry is upper case (`MyUser/app`) is refused as
 *   an upper-case repository name; docker would try to reach a host called `MyUser`;
 * - registry hosts are lower-cased (DNS is case-insensitive) and `registry-1.docker.io`, like
 *   `index.docker.io`, becomes `docker.io`.
 */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (!text) fail(input, 'it is empty');
  if (/\s/.test(text)) fail(input, 'it contains white space');
  if (text.includes('://')) fail(input, 'leave out the scheme (http:// or https://); write host/repository');
  if (userinfoEnd(text))
    fail(
      input,
      'a user name or password ("…@" before the registry) does not belong in a reference; write host/repository, and log in to the registry instead',
    );
  if (IMAGE_ID.test(text)) fail(input, 'a bare 64-character hex string is an image ID, not a reference; write repository@sha256:<digest>');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(input, digest);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tag) fail(input, `nothing follows ":"; ${ALLOWED_TAG}`);
    if (!TAG.test(tag)) fail(input, `"${tag}" is not a valid tag; ${ALLOWED_TAG}`);
  }

  if (!rest) fail(input, 'the repository name is missing');
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first.toLowerCase() === 'localhost') {
      if (!DOMAIN_AND_PORT.test(first)) fail(input, `"${first}" is not a valid registry host[:port]; ${ALLOWED_HOST}`);
      registry = first.toLowerCase();
      path = rest.slice(slash + 1);
    } else if (first.toLowerCase() !== first) {
      if (rest.split('/').every((component) => PATH_COMPONENT.test(component.toLowerCase()))) {
        fail(input, `repository name "${rest}" must be lower case (a registry host has a "." or ":port", or is localhost)`);
      }
      checkPath(input, rest); // throws: names the part that is wrong
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  checkPath(input, path);
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path.length > MAX_REPOSITORY_LENGTH) {
    fail(
      input,
      `the repository name "${path.slice(0, 40)}…" is ${path.length} characters long; at most ${MAX_REPOSITORY_LENGTH} are allowed`,
    );
  }

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

export function sameRepository(a: RepositoryRef, b: RepositoryRef): boolean {
  return a.registry === b.registry && a.repository === b.repository;
}
