// Builds the registry client both entries use, from their client settings, and closes it without
// letting a failing close hide what the work did.
import type { Dispatcher } from 'undici';
import type { Logger } from '../base/logger.js';
import { registerSecret } from '../base/redact.js';
import type { ClientSettings, SigningSettings } from './model.js';
import { createRegistryClient } from '../registry/client.js';
import { createDockerCredentialProvider } from '../registry/credentials/lookup.js';
import type { RegistryClient, RetryOptions } from '../registry/client-types.js';

export const USER_AGENT = 'manifest-merge (+https://github.com/acme/manifest-merge)';

export interface ClientSetup {
  logger: Logger;
  /** the surface's own masking (the action passes core.setSecret); every secret is also registered for redaction */
  onSecret?: (secret: string) => void;
  /** how the surface names credentials given to it explicitly, in messages ("inputs username/password", "--username/--password-stdin") */
  explicitCredentials?: string;
  /** when the run's time budget ends (epoch ms; default: `timeoutMs` from now) */
  deadline?: number;
  /** directory of config.json (default $DOCKER_CONFIG or ~/.docker) */
  configDir?: string;
  /** environment credential helpers are looked up and run in (default this process's) */
  env?: NodeJS.ProcessEnv;
  /** retry policy (default: the client's, 5 attempts from 200 ms up to 10 s); tests shorten it */
  retry?: RetryOptions;
  /** per-request timeout for headers and for each pause in a body (default 60 s); tests shorten it */
  requestTimeoutMs?: number;
  /** test-only: an undici dispatcher instead of the client's own (e.g. one mapping host names to loopback) */
  dispatcher?: Dispatcher;
  /** where GitHub's API is (the action passes GITHUB_API_URL; default https://api.github.com) */
  githubApiUrl?: string;
  /** test-only: where Docker Hub's API is (default https://hub.docker.com) */
  hubApiUrl?: string;
  /** `sign` / `attest`: the identity token's source and Sigstore's endpoints (the surfaces read them from the environment and fields) */
  signing?: SigningSettings;
}

export function createClient(settings: ClientSettings, setup: ClientSetup): RegistryClient {
  // One deadline for every wait of the run, credential helpers included (a step passes the one it
  // started with, so opening layouts spends the same budget).
  const deadline = setup.deadline ?? Date.now() + settings.timeoutMs;
  const onSecret = (secret: string) => {
    registerSecret(secret);
    setup.onSecret?.(secret);
  };
  const credentials = createDockerCredentialProvider({
    explicit: settings.credentials,
    explicitSource: setup.explicitCredentials ?? 'explicit credentials',
    configDir: setup.configDir,
    env: setup.env,
    logger: setup.logger,
    onSecret,
    deadline,
  });
  return createRegistryClient({
    credentials,
    insecureRegistries: settings.insecureRegistries,
    logger: setup.logger,
    deadline,
    onSecret,
    userAgent: USER_AGENT,
    retry: setup.retry,
    requestTimeoutMs: setup.requestTimeoutMs,
    dispatcher: setup.dispatcher,
    hostedApis: { githubToken: settings.githubToken, githubApiUrl: setup.githubApiUrl, hubApiUrl: setup.hubApiUrl },
    ...(settings.connectionsPerOrigin ? { connectionsPerOrigin: settings.connectionsPerOrigin } : {}),
  });
}

/**
 * Runs `work` with `client`, then closes it. A close that fails is logged, never thrown: it must
 * not replace the error the work failed with, nor fail work that succeeded.
 */
export async function useClient<T>(client: RegistryClient, logger: Logger, work: (client: RegistryClient) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } finally {
    try {
      await client.close();
    } catch (error) {
      logger.warning(`Closing the registry connections failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
