// GitHub's packages REST API, for ghcr.io: GHCR deletes no tag and no manifest through the registry
// API; a package version (a manifest, with every tag it has) is deleted through
// `DELETE /{orgs|users}/{owner}/packages/container/{package}/versions/{id}`, with the workflow's
// token (`packages: write`). The package is the repository path after the owner, URL-encoded
// (`team/app` → `team%2Fapp`). Versions are listed newest first, a page of 100 at a time.
import { isNotFound } from '../../base/errors.js';
import type { RepositoryRef } from '../../oci/reference.js';
import type { PackageVersion, PackagesApi } from '../client-types.js';
import { type ApiSender, callApi } from './api.js';

export const GITHUB_API_URL = 'https://api.github.com';
const SERVICE = 'GitHub packages API';
const PAGE = 100;
/** At most this many pages are read looking for a version (10 000 versions). */
const MAX_PAGES = 100;

interface ListedVersion {
  id?: unknown;
  name?: unknown;
  metadata?: { container?: { tags?: unknown } };
}

export class GhcrPackages implements PackagesApi {
  /** per owner: `orgs` or `users`, once the API said which */
  private readonly kinds = new Map<string, Promise<'orgs' | 'users'>>();

  constructor(
    private readonly sender: ApiSender,
    private readonly token: string,
    private readonly apiUrl: string = GITHUB_API_URL,
  ) {}

  async findVersion(repository: RepositoryRef, digest: string): Promise<PackageVersion | undefined> {
    const { owner, name } = packageOf(repository);
    const kind = await this.ownerKind(repository, owner, name);
    for (let page = 1; page <= MAX_PAGES; page++) {
      const versions = await this.page(repository, kind, owner, name, page);
      const found = versions.find((v) => v.digest === digest);
      if (found) return found;
      if (versions.length < PAGE) return undefined;
    }
    return undefined;
  }

  async deleteVersion(repository: RepositoryRef, version: PackageVersion): Promise<void> {
    const { owner, name } = packageOf(repository);
    const kind = await this.ownerKind(repository, owner, name);
    await callApi({
      ...this.call(repository, `Package version ${version.digest} of ${owner}/${name}`),
      method: 'DELETE',
      url: this.url(`/${kind}/${encodeURIComponent(owner)}/packages/container/${encodeURIComponent(name)}/versions/${version.id}`),
      expect: [200, 202, 204],
    });
  }

  /** Whether the owner is an organisation or a user: asked once, organisations first. */
  private ownerKind(repository: RepositoryRef, owner: string, name: string): Promise<'orgs' | 'users'> {
    let kind = this.kinds.get(owner);
    if (!kind) {
      kind = this.page(repository, 'orgs', owner, name, 1, 1).then(
        () => 'orgs' as const,
        (error: unknown) => {
          if (isNotFound(error)) return 'users' as const;
          throw error;
        },
      );
      this.kinds.set(owner, kind);
      kind.catch(() => this.kinds.delete(owner));
    }
    return kind;
  }

  private async page(
    repository: RepositoryRef,
    kind: 'orgs' | 'users',
    owner: string,
    name: string,
    page: number,
    perPage = PAGE,
  ): Promise<PackageVersion[]> {
    const url = this.url(`/${kind}/${encodeURIComponent(owner)}/packages/container/${encodeURIComponent(name)}/versions`);
    url.searchParams.set('per_page', String(perPage));
    url.searchParams.set('page', String(page));
    const { json } = await callApi({
      ...this.call(repository, `Package versions of ${owner}/${name}`),
      method: 'GET',
      url,
      expect: [200],
    });
    return (Array.isArray(json) ? (json as ListedVersion[]) : []).flatMap((v): PackageVersion[] => {
      if (typeof v.id !== 'number' || typeof v.name !== 'string') return [];
      const tags = v.metadata?.container?.tags;
      return [{ id: v.id, digest: v.name, tags: Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [] }];
    });
  }

  private call(repository: RepositoryRef, what: string) {
    return {
      sender: this.sender,
      registry: repository.registry,
      service: SERVICE,
      what,
      repository: repository.repository,
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
      },
    };
  }

  private url(path: string): URL {
    return new URL(`${this.apiUrl.replace(/\/+$/, '')}${path}`);
  }
}

/** `acme/team/app` → owner `acme`, package `team/app`. */
export function packageOf(repository: RepositoryRef): { owner: string; name: string } {
  const [owner, ...rest] = repository.repository.split('/');
  return { owner, name: rest.join('/') };
}
