// Docker Hub's own API: the registry API deletes nothing on Hub, its web API deletes a tag
// (`DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/`, the manifest stays) with a
// token from `POST /v2/users/login`, given the login's username and password or access token
// (the credentials docker.io has: docker/login-action's, or the step's own).
import { CredentialsError } from '../../base/errors.js';
import type { RepositoryRef } from '../../oci/reference.js';
import type { CredentialProvider, TagsApi } from '../client-types.js';
import { type ApiSender, callApi } from './api.js';

export const DOCKER_HUB_API_URL = 'https://hub.docker.com';
const SERVICE = 'Docker Hub API';

export class HubTags implements TagsApi {
  private token?: Promise<string>;

  constructor(
    private readonly sender: ApiSender,
    private readonly credentials: CredentialProvider,
    private readonly onSecret: (secret: string) => void,
    private readonly apiUrl: string = DOCKER_HUB_API_URL,
  ) {}

  async deleteTag(repository: RepositoryRef, tag: string): Promise<void> {
    const token = await this.login(repository);
    const [namespace, ...rest] = repository.repository.split('/');
    await callApi({
      sender: this.sender,
      registry: repository.registry,
      service: SERVICE,
      what: `Tag ${repository.repository}:${tag}`,
      repository: repository.repository,
      method: 'DELETE',
      url: this.url(
        `/v2/repositories/${encodeURIComponent(namespace)}/${encodeURIComponent(rest.join('/'))}/tags/${encodeURIComponent(tag)}/`,
      ),
      headers: { authorization: `Bearer ${token}` },
      expect: [200, 202, 204],
    });
  }

  private login(repository: RepositoryRef): Promise<string> {
    this.token ??= (async () => {
      const credentials = await this.credentials.credentialsFor(repository.registry);
      if (!credentials || credentials.kind !== 'basic')
        throw new CredentialsError(
          `Docker Hub's API removes tags only for a login with a username and a password or access token; ${credentials ? `the credentials for docker.io (${credentials.source}) are a token` : `there are no credentials for docker.io (looked in ${this.credentials.describeLookup(repository.registry)})`}`,
          { registry: repository.registry, hint: 'Log in to Docker Hub with a username and an access token that may delete ({login})' },
        );
      const { json } = await callApi({
        sender: this.sender,
        registry: repository.registry,
        service: SERVICE,
        what: 'Docker Hub login',
        method: 'POST',
        url: this.url('/v2/users/login'),
        headers: {},
        body: { username: credentials.username, password: credentials.password },
        expect: [200],
      });
      const token = (json as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token === '') throw new CredentialsError('Docker Hub login answered without a token');
      this.onSecret(token);
      return token;
    })();
    this.token.catch(() => (this.token = undefined));
    return this.token;
  }

  private url(path: string): URL {
    return new URL(`${this.apiUrl.replace(/\/+$/, '')}${path}`);
  }
}
