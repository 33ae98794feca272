// The WWW-Authenticate grammar: several challenges, quoted values with escapes, token68.
import { describe, expect, it } from '@jest/globals';
import { parseWwwAuthenticate, type AuthChallenge } from '../../../src/registry/auth/challenge.js';

describe('parseWwwAuthenticate', () => {
  it.each<[string, string, AuthChallenge[]]>([
    [
      'docker hub bearer',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
        },
      ],
    ],
    ['basic', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'comma inside a quoted value',
      'Bearer realm="https://ghcr.io/token",scope="repository:acme/app:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', scope: 'repository:acme/app:pull,push' } }],
    ],
    [
      'escaped quotes and backslashes',
      'Basic realm="a \\"quoted\\" \\\\ realm"',
      [{ scheme: 'basic', params: { realm: 'a "quoted" \\ realm' } }],
    ],
    [
      'several challenges',
      'Basic realm="r1", Bearer realm="https://a.example/token", service="a.example"',
      [
        { scheme: 'basic', params: { realm: 'r1' } },
        { scheme: 'bearer', params: { realm: 'https://a.example/token', service: 'a.example' } },
      ],
    ],
    [
      'case-insensitive scheme and names, unquoted tokens, spaces around =',
      'BEARER Realm=https://a.example/token , SERVICE = a.example',
      [{ scheme: 'bearer', params: { realm: 'https://a.example/token', service: 'a.example' } }],
    ],
    [
      'insufficient_scope error',
      'Bearer realm="https://r/token",service="r",scope="repository:a:pull,push",error="insufficient_scope"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://r/token', service: 'r', scope: 'repository:a:pull,push', error: 'insufficient_scope' },
        },
      ],
    ],
    [
      'token68 challenge before a parameter challenge',
      'Negotiate YII=, Basic realm="x"',
      [
        { scheme: 'negotiate', params: { token68: 'YII=' } },
        { scheme: 'basic', params: { realm: 'x' } },
      ],
    ],
    ['scheme without parameters', 'Basic', [{ scheme: 'basic', params: {} }]],
    ['empty header', '', []],
    ['first of duplicate parameters wins', 'Bearer realm="a", realm="b"', [{ scheme: 'bearer', params: { realm: 'a' } }]],
  ])('%s', (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });
});
