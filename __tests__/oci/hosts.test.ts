// Registry hosts (src/oci/hosts.ts): where docker.io's API lives, which hosts are loopback, and
// the insecure policy that decides where plain HTTP (and unverified TLS) may be spoken.
import { describe, expect, it } from '@jest/globals';
import {
  DOCKER_HUB,
  DOCKER_HUB_API_HOST,
  InsecurePolicy,
  isLoopbackRegistry,
  normalizeHostEntry,
  registryApiHost,
} from '../../src/oci/hosts.js';

describe('docker.io and its API host', () => {
  it.each([
    ['docker.io', 'registry-1.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
  ])('registryApiHost(%s) = %s', (registry, host) => {
    expect(registryApiHost(registry)).toBe(host);
  });

  it.each([
    // only the normalised name maps: the others are what parseReference turns into docker.io
    ['index.docker.io', 'index.docker.io'],
    [DOCKER_HUB_API_HOST, DOCKER_HUB_API_HOST],
    ['[::1]:5000', '[::1]:5000'],
  ])('registryApiHost(%s) = %s (left as it is)', (registry, host) => {
    expect(registryApiHost(registry)).toBe(host);
  });

  it('docker.io is the name references are normalised to', () => {
    expect(DOCKER_HUB).toBe('docker.io');
    expect(registryApiHost(DOCKER_HUB)).toBe('registry-1.docker.io');
  });
});

describe('loopback registries', () => {
  it.each<[string, boolean]>([
    ['localhost', true],
    ['localhost:5000', true],
    ['LOCALHOST:5000', true],
    ['127.0.0.1', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3:80', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['[0:0:0:0:0:0:0:1]:5000', true],
    ['ghcr.io', false],
    ['localhost.example.com', false],
    ['128.0.0.1:5000', false],
    ['10.0.0.1:5000', false],
    ['[::2]:5000', false],
    ['[1::1]', false],
    ['docker.io', false],
  ])('isLoopbackRegistry(%s) = %s', (registry, loopback) => {
    expect(isLoopbackRegistry(registry)).toBe(loopback);
  });
});

describe('normalizeHostEntry: how an insecure-registries entry is compared', () => {
  it.each<[string, string]>([
    ['http://Host:5000/path', 'host:5000'],
    ['https://registry.internal', 'registry.internal'],
    ['  registry.internal  ', 'registry.internal'],
    ['registry.internal:5000/', 'registry.internal:5000'],
    ['REGISTRY.INTERNAL:5000/v2/', 'registry.internal:5000'],
    ['[FD00::1]:5000', '[fd00::1]:5000'],
    ['', ''],
  ])('normalizeHostEntry(%j) = %j', (entry, normalised) => {
    expect(normalizeHostEntry(entry)).toBe(normalised);
  });
});

describe('InsecurePolicy.allowsPlainHttp', () => {
  it.each<[string, string[], string, boolean]>([
    ['loopback without being listed', [], 'localhost:5000', true],
    ['IPv6 loopback without being listed', [], '[::1]:5000', true],
    ['a public registry by default', [], 'ghcr.io', false],
    ['a listed host on its port', ['registry.internal:5000'], 'registry.internal:5000', true],
    ['a listed host on another port', ['registry.internal:5000'], 'registry.internal:5001', false],
    ['a listed host:port, asked without a port', ['registry.internal:5000'], 'registry.internal', false],
    ['an entry without a port covers every port', ['registry.internal'], 'registry.internal:5000', true],
    ['an entry without a port, asked without one', ['registry.internal'], 'registry.internal', true],
    ['letter case is ignored', ['Registry.Internal'], 'REGISTRY.internal:443', true],
    ['an entry written as a URL', ['http://registry.internal:5000/v2/'], 'registry.internal:5000', true],
    ['a subdomain of a listed host is not listed', ['registry.internal'], 'evil.registry.internal', false],
    ['a listed host is not a suffix match', ['internal'], 'registry.internal', false],
    ['an IPv6 entry', ['[fd00::1]:5000'], '[fd00::1]:5000', true],
    ['blank entries list nothing', ['', '  '], 'ghcr.io', false],
  ])('%s', (_name, entries, host, allowed) => {
    expect(new InsecurePolicy(entries).allowsPlainHttp(host)).toBe(allowed);
  });

  it('lists nothing when given nothing', () => {
    expect(new InsecurePolicy().allowsPlainHttp('registry.internal:5000')).toBe(false);
  });
});

describe('InsecurePolicy.allowsPlainHttpRealm: where credentials may go over plain HTTP', () => {
  it.each<[string, string[], string, string, boolean]>([
    [
      'a realm beside an allowed registry (same host, another port)',
      ['registry.internal:5000'],
      'registry.internal:5000',
      'registry.internal:5001',
      true,
    ],
    ['a realm that is itself allowed', ['auth.internal:8080'], 'registry.internal:5000', 'auth.internal:8080', true],
    ['a loopback realm', [], 'ghcr.io', 'localhost:8080', true],
    ['a realm on another host than the allowed registry', ['registry.internal:5000'], 'registry.internal:5000', 'auth.example.com', false],
    ['a realm beside a registry that is not allowed', [], 'registry.internal:5000', 'registry.internal:5001', false],
    ['a public registry and its realm', [], 'ghcr.io', 'ghcr.io', false],
  ])('%s', (_name, entries, registry, realm, allowed) => {
    expect(new InsecurePolicy(entries).allowsPlainHttpRealm(registry, realm)).toBe(allowed);
  });
});
