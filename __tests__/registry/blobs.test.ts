// Blobs: HEAD and GET, following redirects to object storage without the registry's
// Authorization, and refusing wrong bytes and sizes, against undici's MockAgent.
import { describe, expect, it } from '@jest/globals';
import { DigestMismatchError, TooLargeError } from '../../src/base/errors.js';
import { caught } from '../support/caught.js';
import { blob } from '../support/fake-registry.js';
import { REGISTRY, STORAGE_ORIGIN, APP, header, mockRegistryClient, basicCredentials, BASIC_VALUE } from '../support/registry-clients.js';

describe('blobs: HEAD, GET and redirects', () => {
  const { bytes, descriptor } = blob(3000);
  const blobPath = `/v2/acme/app/blobs/${descriptor.digest}`;

  /** Registry wanting Basic auth that redirects blob reads to object storage. */
  function redirectingRegistry(method: 'GET' | 'HEAD') {
    const env = mockRegistryClient({ credentials: basicCredentials() });
    const registryAuth: Array<string | undefined> = [];
    const storageAuth: Array<string | undefined> = [];
    env.registry
      .intercept({ path: blobPath, method })
      .reply((opts) => {
        registryAuth.push(header(opts, 'authorization'));
        return header(opts, 'authorization')
          ? {
              statusCode: 307,
              data: '',
              responseOptions: { headers: { location: `${STORAGE_ORIGIN}/blobs/xyz?X-Amz-Signature=abc-signature&X-Amz-Expires=300` } },
            }
          : { statusCode: 401, data: '', responseOptions: { headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } } };
      })
      .times(2);
    env.agent
      .get(STORAGE_ORIGIN)
      .intercept({ path: '/blobs/xyz?X-Amz-Signature=abc-signature&X-Amz-Expires=300', method })
      .reply(
        200,
        (opts) => {
          storageAuth.push(header(opts, 'authorization'));
          return method === 'GET' ? bytes : '';
        },
        { headers: { 'content-length': String(bytes.length) } },
      );
    return { ...env, registryAuth, storageAuth };
  }

  it('fetchBlob follows a redirect to another origin without the Authorization header', async () => {
    const { client, registryAuth, storageAuth, logger } = redirectingRegistry('GET');
    const fetched = await client.fetchBlob(APP, descriptor);
    expect(fetched.equals(bytes)).toBe(true);
    expect(registryAuth).toEqual([undefined, `Basic ${BASIC_VALUE}`]);
    expect(storageAuth).toEqual([undefined]);
    expect(client.stats().byKind).toEqual({ 'GET blob': 3 });
    expect(logger.lines.join('\n')).not.toContain('abc-signature');
  });

  it('hasBlob follows redirects too, and is false on 404', async () => {
    const { client, registry, storageAuth } = redirectingRegistry('HEAD');
    expect(await client.hasBlob(APP, descriptor.digest)).toBe(true);
    expect(storageAuth).toEqual([undefined]);
    registry.intercept({ path: `/v2/acme/app/blobs/sha256:${'e'.repeat(64)}`, method: 'HEAD' }).reply(404, '');
    expect(await client.hasBlob(APP, `sha256:${'e'.repeat(64)}`)).toBe(false);
  });

  it('fetchBlob refuses wrong bytes and wrong sizes, naming the blob and repository', async () => {
    const { registry, client } = mockRegistryClient();
    const altered = Buffer.from(bytes);
    altered[10] ^= 0xff;
    registry.intercept({ path: blobPath, method: 'GET' }).reply(200, altered);
    const digestError = await caught(client.fetchBlob(APP, descriptor));
    expect(digestError).toBeInstanceOf(DigestMismatchError);
    expect(digestError.message).toContain(`Blob ${descriptor.digest} of ${REGISTRY}/acme/app`);

    registry.intercept({ path: blobPath, method: 'GET' }).reply(200, Buffer.concat([bytes, Buffer.from('x')]));
    expect(await caught(client.fetchBlob(APP, descriptor))).toBeInstanceOf(DigestMismatchError);

    const tooLarge = await caught(client.fetchBlob(APP, descriptor, 1000));
    expect(tooLarge).toBeInstanceOf(TooLargeError);
    expect(client.stats().byKind).toEqual({ 'GET blob': 2 });
  });
});
