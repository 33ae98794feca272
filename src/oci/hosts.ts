// Registry hosts: where to connect, and when plain HTTP (and unverified TLS) is allowed. One
// policy for the registry API and its token realm alike. Pure.
export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually lives. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** The key docker login writes for Docker Hub in config.json. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** Host to open connections to: Docker Hub's API host for docker.io, the registry itself otherwise. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Loopback hosts may use plain HTTP without being listed as insecure. */
export function isLoopbackRegistry(registry: string): boolean {
  const lower = registry.toLowerCase();
  const host = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.split(':')[0];
  return host === 'localhost' || /^\[(?:0{0,4}:){2,7}0{0,3}1\]$/.test(host) || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** `http://Host:5000/path` → `host:5000`: how an insecure-registries entry is compared. */
export function normalizeHostEntry(entry: string): string {
  return entry
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '')
    .replace(/\/.*$/, '');
}

function hostnameOf(host: string): string {
  return URL.canParse(`http://${host}`) ? new URL(`http://${host}`).hostname : host;
}

/**
 * Which hosts may be spoken to over plain HTTP (and TLS without verification): loopback ones,
 * and those the user lists as insecure (host[:port]; an entry without a port covers every port).
 */
export class InsecurePolicy {
  private readonly entries: string[];

  constructor(insecureRegistries: readonly string[] = []) {
    this.entries = insecureRegistries.map(normalizeHostEntry).filter(Boolean);
  }

  /** Whether `host` (host[:port]) may use plain HTTP. */
  allowsPlainHttp(host: string): boolean {
    const wanted = host.toLowerCase();
    if (isLoopbackRegistry(wanted)) return true;
    return this.entries.some((entry) => entry === wanted || (!entry.includes(':') && hostnameOf(wanted) === entry));
  }

  /**
   * Whether credentials for `registry` may go to a plain-http token realm on `realmHost`: the realm
   * is itself allowed, or it runs beside an allowed registry on the same host (another port).
   */
  allowsPlainHttpRealm(registry: string, realmHost: string): boolean {
    if (this.allowsPlainHttp(realmHost)) return true;
    return hostnameOf(registry.toLowerCase()) === hostnameOf(realmHost.toLowerCase()) && this.allowsPlainHttp(registry);
  }
}
