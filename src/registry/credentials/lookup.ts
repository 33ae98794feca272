// Where registry credentials come from, in the docker CLI's order: explicit credentials, then
// config.json `credHelpers` for the host, `auths`, and `credsStore` (docker-config.ts), with
// helpers run as `docker-credential-NAME get` (helper.ts) on a runner that can kill them, with
// everything they started, at the deadline (process-runner.ts).
import { type Logger, silentLogger } from '../../base/logger.js';
import type { CredentialProvider, Credentials } from '../client-types.js';
import { credentialHost, dockerConfigPath, fromAuthEntry, loadDockerConfig, matchingKeys, type DockerConfig } from './docker-config.js';
import { getFromHelper } from './helper.js';
import { childProcessRunner, createChildProcessRunner, type CommandRunner } from './process-runner.js';

export { credentialHost } from './docker-config.js';
export { childProcessRunner, createChildProcessRunner, type CommandRunner } from './process-runner.js';

export interface DockerCredentialOptions {
  /** explicit credentials (action inputs, CLI flags), used for `registry` only */
  explicit?: { registry: string; username: string; password: string };
  /** how messages name where explicit credentials came from (default 'inputs username/password'; the CLI's flags) */
  explicitSource?: string;
  /** the run's deadline (epoch ms): a helper still running then is killed with its process group */
  deadline?: number;
  /** directory holding config.json; default $DOCKER_CONFIG, else ~/.docker */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** how helpers are run; default a child_process runner on `env` */
  runner?: CommandRunner;
  logger?: Logger;
  onSecret?: (s: string) => void;
}

class DockerCredentialProvider implements CredentialProvider {
  private readonly env: NodeJS.ProcessEnv;
  private readonly configPath: string;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  private readonly onSecret: (s: string) => void;
  private readonly explicit?: { registry: string; username: string; password: string };
  private readonly explicitSource: string;
  private readonly deadline?: number;
  private config?: DockerConfig;
  private readonly cache = new Map<string, Promise<Credentials | undefined>>();

  constructor(options: DockerCredentialOptions) {
    this.env = options.env ?? process.env;
    this.configPath = dockerConfigPath(options.configDir, this.env);
    this.runner = options.runner ?? (options.env ? createChildProcessRunner(options.env) : childProcessRunner);
    this.logger = options.logger ?? silentLogger;
    this.explicitSource = options.explicitSource ?? 'inputs username/password';
    this.deadline = options.deadline;
    this.onSecret = (s) => {
      if (s) options.onSecret?.(s);
    };
    const explicit = options.explicit;
    if (explicit && explicit.registry.trim() && explicit.username && explicit.password) {
      this.explicit = explicit;
      this.onSecret(explicit.password);
    }
  }

  credentialsFor(registry: string): Promise<Credentials | undefined> {
    const host = credentialHost(registry);
    let pending = this.cache.get(host);
    if (!pending) {
      pending = this.lookup(registry, host);
      this.cache.set(host, pending);
    }
    return pending;
  }

  describeLookup(registry: string): string {
    const host = credentialHost(registry);
    const places: string[] = [];
    if (this.explicit) {
      places.push(
        credentialHost(this.explicit.registry) === host
          ? this.explicitSource
          : `${this.explicitSource} (given for ${this.explicit.registry}, not ${registry})`,
      );
    }
    let config: DockerConfig;
    try {
      config = this.loadConfig();
    } catch {
      places.push(`${this.configPath} (unreadable)`);
      return places.join(', ');
    }
    if (!config.exists) {
      places.push(`${this.configPath} (not found)`);
      return places.join(', ');
    }
    const details: string[] = [];
    const helperKey = matchingKeys(Object.keys(config.credHelpers), host)[0];
    details.push(
      helperKey === undefined
        ? `no credHelpers entry for ${registry}`
        : `credHelpers[${JSON.stringify(helperKey)}] "${config.credHelpers[helperKey]}"`,
    );
    const authKeys = matchingKeys(Object.keys(config.auths), host);
    details.push(authKeys.length > 0 ? authKeys.map((k) => `auths[${JSON.stringify(k)}]`).join(', ') : `no auths entry for ${registry}`);
    if (config.credsStore) details.push(`credsStore "${config.credsStore}"`);
    places.push(`${config.path} (${details.join(', ')})`);
    return places.join(', ');
  }

  private async lookup(registry: string, host: string): Promise<Credentials | undefined> {
    const found = await this.find(registry, host);
    if (found) this.logger.debug(`credentials for ${registry}: ${found.source}`);
    else this.logger.debug(`no credentials for ${registry} (looked in ${this.describeLookup(registry)}); going anonymous`);
    return found;
  }

  private async find(registry: string, host: string): Promise<Credentials | undefined> {
    // 1. explicit credentials
    if (this.explicit && credentialHost(this.explicit.registry) === host) {
      return { kind: 'basic', username: this.explicit.username, password: this.explicit.password, source: this.explicitSource };
    }

    const config = this.loadConfig();
    // 2. a helper for this very host (docker: credHelpers win over auths and credsStore)
    const helperKey = matchingKeys(Object.keys(config.credHelpers), host)[0];
    if (helperKey !== undefined) {
      const fromHelper = await this.helper(config.credHelpers[helperKey], registry, `credHelpers[${JSON.stringify(helperKey)}]`);
      if (fromHelper) return fromHelper;
    }

    // 3. auths entries holding a secret (an empty `{}` entry only records a login kept by credsStore)
    for (const key of matchingKeys(Object.keys(config.auths), host)) {
      const credentials = fromAuthEntry(config, key, this.onSecret);
      if (credentials) return credentials;
    }

    // 4. the default credential store (docker never asks it about a host that has its own helper)
    if (config.credsStore && helperKey === undefined) return this.helper(config.credsStore, registry, 'credsStore');
    return undefined;
  }

  private helper(name: string, registry: string, configuredBy: string): Promise<Credentials | undefined> {
    return getFromHelper({
      name,
      registry,
      configuredBy,
      configPath: this.configPath,
      runner: this.runner,
      deadline: this.deadline,
      logger: this.logger,
      onSecret: this.onSecret,
    });
  }

  /** Reads and validates config.json once; a missing file is an empty config. */
  private loadConfig(): DockerConfig {
    this.config ??= loadDockerConfig(this.configPath, this.logger);
    return this.config;
  }
}

/**
 * Credentials the way the docker CLI finds them. Order (first hit wins): explicit inputs for that
 * registry; config.json `credHelpers[host]`; `auths` (`auth`, `username`/`password`,
 * `identitytoken`, `registrytoken`; keys in any of docker's spellings); `credsStore`.
 * A helper that is missing or fails is a CredentialsError; "credentials not found" is anonymous.
 * Results are cached per registry: one helper run per registry per provider.
 */
export function createDockerCredentialProvider(options: DockerCredentialOptions = {}): CredentialProvider {
  return new DockerCredentialProvider(options);
}
