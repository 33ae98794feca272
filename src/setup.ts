// Builds the registry client both entries use, from validated inputs.
import type { MergeRequest } from './engine.js';
import type { Inputs } from './inputs.js';
import type { Logger } from './logger.js';
import { createRegistryClient } from './registry/client.js';
import { type CommandRunner, createDockerCredentialProvider } from './registry/credentials.js';
import type { RegistryClient, RetryOptions } from './registry/types.js';

export const USER_AGENT = 'manifest-merge (+https://github.com/acme/manifest-merge)';

export interface ClientSetup {
  logger: Logger;
  onSecret: (secret: string) => void;
  /** how credential helpers are run (the action uses @actions/exec) */
  runner?: CommandRunner;
  /** directory of config.json (default $DOCKER_CONFIG or ~/.docker) */
  configDir?: string;
  /** retry policy (default: the client's, 5 attempts from 200 ms up to 10 s); tests shorten it */
  retry?: RetryOptions;
  /** per-request timeout for headers and for each pause in a body (default 60 s); tests shorten it */
  requestTimeoutMs?: number;
}

export function createClientForInputs(inputs: Inputs, setup: ClientSetup): RegistryClient {
  const explicit = inputs.username && inputs.password && inputs.registry ? { registry: inputs.registry, username: inputs.username, password: inputs.password } : undefined;
  const credentials = createDockerCredentialProvider({
    explicit,
    configDir: setup.configDir,
    runner: setup.runner,
    logger: setup.logger,
    onSecret: setup.onSecret,
  });
  return createRegistryClient({
    credentials,
    insecureRegistries: inputs.insecureRegistries,
    logger: setup.logger,
    deadline: Date.now() + inputs.timeoutMs,
    onSecret: setup.onSecret,
    userAgent: USER_AGENT,
    retry: setup.retry,
    requestTimeoutMs: setup.requestTimeoutMs,
  });
}

/** The engine's request for validated inputs (the action and the CLI share it). */
export function mergeRequestFor(inputs: Inputs): MergeRequest {
  return {
    sources: inputs.sources,
    tags: inputs.tags,
    platforms: inputs.platforms,
    attestations: inputs.attestations,
    format: inputs.format,
    push: inputs.push,
    append: inputs.append,
    annotations: inputs.annotations,
  };
}
