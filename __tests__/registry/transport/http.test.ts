// The one helper of the transport's types (src/registry/transport/http.ts): a response header by
// name, as undici gives headers (lower-case names; a repeated header as a list).
import { describe, expect, it } from '@jest/globals';
import { headerValue } from '../../../src/registry/transport/http.js';

describe('headerValue', () => {
  it.each<[string, Record<string, string | string[] | undefined>, string, string | undefined]>([
    ['a header by its lower-case name', { 'docker-content-digest': 'sha256:a' }, 'docker-content-digest', 'sha256:a'],
    ['a header asked for in any case', { 'docker-content-digest': 'sha256:a' }, 'Docker-Content-Digest', 'sha256:a'],
    [
      'the first of a repeated header',
      { 'www-authenticate': ['Bearer realm="a"', 'Basic realm="b"'] },
      'WWW-Authenticate',
      'Bearer realm="a"',
    ],
    ['an empty list', { link: [] }, 'Link', undefined],
    ['a missing header', { 'content-type': 'application/json' }, 'Location', undefined],
    ['an empty value', { location: '' }, 'location', ''],
  ])('%s', (_name, headers, name, value) => {
    expect(headerValue(headers, name)).toBe(value);
  });
});
