// The one request builder: `/v2/<repository>/<path>?<query>`, upload Locations with a digest
// appended, and the scopes a request needs.
import { describe, expect, it } from '@jest/globals';
import { appendQuery, locationRequest, pull, pullPush, registryRequest, registryTarget } from '../../src/registry/endpoint.js';

const APP = { registry: 'registry.example.com', repository: 'acme/app' };

describe('endpoint', () => {
  it('builds /v2/<repository>/<path> with an encoded query, and carries repository facts', () => {
    expect(registryTarget({ ...APP, path: 'blobs/uploads/', query: { mount: 'sha256:ab', from: 'acme/base' } })).toBe(
      '/v2/acme/app/blobs/uploads/?mount=sha256%3Aab&from=acme%2Fbase',
    );
    const request = registryRequest(
      { ...APP, path: 'manifests/1.0' },
      { method: 'GET', kind: 'GET manifest', scopes: [pull(APP)], what: 'Manifest', expect: [200], facts: { reference: '1.0' } },
    );
    expect(request).toMatchObject({
      registry: 'registry.example.com',
      target: '/v2/acme/app/manifests/1.0',
      facts: { repository: 'acme/app', reference: '1.0' },
    });
    expect(
      locationRequest('registry.example.com', 'https://x/u', {
        method: 'PUT',
        kind: 'PUT upload',
        scopes: [],
        what: 'Upload',
        expect: [201],
      }).target,
    ).toBe('https://x/u');
  });

  it('appends to a Location whose query may already exist, without re-encoding it', () => {
    expect(appendQuery('https://r/u?_state=a%3D', 'digest', 'sha256:ab')).toBe('https://r/u?_state=a%3D&digest=sha256%3Aab');
    expect(appendQuery('https://r/u', 'digest', 'sha256:ab')).toBe('https://r/u?digest=sha256%3Aab');
    expect(appendQuery('https://r/u?', 'digest', 'x')).toBe('https://r/u?digest=x');
    expect(appendQuery('https://r/u?a=1&#frag', 'digest', 'x')).toBe('https://r/u?a=1&digest=x');
  });

  it('asks pull to read, pull and push to write', () => {
    expect(pull(APP)).toEqual({ repository: 'acme/app', actions: ['pull'] });
    expect(pullPush(APP)).toEqual({ repository: 'acme/app', actions: ['pull', 'push'] });
  });
});
