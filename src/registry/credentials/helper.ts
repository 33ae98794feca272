// The docker-credential-NAME protocol: `docker-credential-NAME get` with the server URL on stdin
// answers JSON {ServerURL, Username, Secret}; "credentials not found" is no credentials, any other
// failure is an error naming the helper and where it was configured. A Username of `<token>` makes
// the Secret an identity token (OAuth2 refresh token). A failing helper's stdout is never quoted
// (it is where the answer, secret and all, goes); its stderr only redacted, escaped and bounded.
import { CredentialsError, TimeoutError, isTimeout } from '../../base/errors.js';
import type { Logger } from '../../base/logger.js';
import { redactSecrets, sanitizeLine } from '../../base/redact.js';
import { DOCKER_HUB, DOCKER_HUB_CONFIG_KEY } from '../../oci/hosts.js';
import type { Credentials } from '../client-types.js';
import { credentialHost, isRecord, nonEmptyString } from './docker-config.js';
import { formatSeconds, type CommandRunner } from './process-runner.js';

/** What to hand a credential helper on stdin: Docker Hub's config key, else the host. */
function helperServerUrl(registry: string): string {
  const host = credentialHost(registry);
  return host === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : host;
}

/** How much of a failing helper's stderr a message quotes. */
const MAX_QUOTED_STDERR = 300;

/**
 * Text a helper wrote (stderr, or a start failure's message) as a message may quote it: every
 * secret redacted (`secrets`: ones it gave away, besides those the run knows and anything shaped
 * like a credential), on one line without escape sequences, at most MAX_QUOTED_STDERR characters.
 */
function quotable(text: string, secrets: string[] = []): string {
  let out = text.trim();
  for (const secret of secrets) out = out.split(secret).join('***');
  out = sanitizeLine(redactSecrets(out));
  return out.length > MAX_QUOTED_STDERR ? `${out.slice(0, MAX_QUOTED_STDERR)}… (stderr cut at ${MAX_QUOTED_STDERR} characters)` : out;
}

/** The Secret of a helper's JSON answer, if `stdout` is one: a failing helper may still have given it away. */
function secretIn(stdout: string): string | undefined {
  try {
    const answer: unknown = JSON.parse(stdout);
    return isRecord(answer) ? nonEmptyString(answer.Secret) : undefined;
  } catch {
    return undefined;
  }
}

export interface HelperRun {
  /** NAME of docker-credential-NAME */
  name: string;
  registry: string;
  /** for messages: `credsStore`, `credHelpers["ghcr.io"]` */
  configuredBy: string;
  /** the config.json that names the helper, for messages */
  configPath: string;
  runner: CommandRunner;
  /** the run's deadline (epoch ms): a helper still running then is killed with its process group */
  deadline?: number;
  logger: Logger;
  onSecret: (s: string) => void;
}

/** Asks the credential helper `docker-credential-NAME` for `registry`'s credentials; undefined when it has none. */
export async function getFromHelper(run: HelperRun): Promise<Credentials | undefined> {
  const { name, registry, configuredBy, configPath, runner, deadline, logger, onSecret } = run;
  const program = `docker-credential-${name}`;
  const where = `configured by ${configuredBy} in ${configPath}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new CredentialsError(`Credential helper name "${sanitizeLine(name)}" for ${registry} (${where}) is not a valid helper name`, {
      registry,
      hint: `A helper name is letters, digits, ".", "_" or "-" (docker runs docker-credential-NAME); fix ${configPath}, or use {credentials}`,
    });
  }
  const serverUrl = helperServerUrl(registry);
  let result: { exitCode: number; stdout: string; stderr: string };
  const started = Date.now();
  try {
    const timeoutMs = deadline === undefined ? undefined : Math.max(0, deadline - started);
    result = await runner.run(program, ['get'], serverUrl, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (error) {
    if (isTimeout(error)) {
      throw new TimeoutError(
        `Credential helper ${program} for ${registry} (${where}) timed out: no answer after ${formatSeconds(Date.now() - started)}; it was stopped with every process it started`,
        {
          cause: error,
          registry,
          wait: 'credential helper',
          hint: `Check that ${program} answers on this machine without a prompt (echo ${serverUrl} | ${program} get), or {login} without it, or raise {timeout}`,
        },
      );
    }
    // (an Error from another realm, e.g. under a test runner's VM, fails instanceof: read its message)
    const message = isRecord(error) && typeof error.message === 'string' ? error.message : undefined;
    const why = message ?? String(error);
    throw new CredentialsError(`Could not run credential helper ${program} for ${registry} (${where}): ${quotable(why)}`, {
      cause: error,
      registry,
      hint: `Install ${program} on the PATH, or remove it from ${configPath}, or use {credentials}`,
    });
  }
  if (result.exitCode !== 0) {
    const said = `${result.stdout}\n${result.stderr}`;
    if (/credentials not found/i.test(said)) {
      logger.debug(`${program} has no credentials for ${serverUrl}`);
      return undefined;
    }
    // stdout is where a helper writes its answer: never quoted, and a secret in it is one
    const leaked = secretIn(result.stdout);
    if (leaked) onSecret(leaked);
    const stderr = quotable(result.stderr, leaked ? [leaked] : []);
    const stdoutNote = result.stdout.trim() ? ' (its stdout is not shown: it may hold a secret)' : '';
    throw new CredentialsError(
      `Credential helper ${program} failed for ${registry} (${where}; exit code ${result.exitCode})${stderr ? `: ${stderr}` : '; it wrote nothing on stderr'}${stdoutNote}`,
      {
        registry,
        hint: `Check that ${program} works on this machine (echo ${serverUrl} | ${program} get), or use {credentials}`,
      },
    );
  }
  let answer: unknown;
  try {
    answer = JSON.parse(result.stdout);
  } catch {
    // the output may hold a secret: never quote it
    throw new CredentialsError(`Credential helper ${program} answered for ${registry} with something that is not JSON (${where})`, {
      registry,
      hint: `Check that ${program} works on this machine (echo ${serverUrl} | ${program} get), or use {credentials}`,
    });
  }
  if (!isRecord(answer)) {
    throw new CredentialsError(`Credential helper ${program} answered for ${registry} with JSON that is not an object (${where})`, {
      registry,
      hint: `Check that ${program} works on this machine (echo ${serverUrl} | ${program} get), or use {credentials}`,
    });
  }
  const secret = nonEmptyString(answer.Secret);
  const username = typeof answer.Username === 'string' ? answer.Username : '';
  if (!secret) {
    logger.debug(`${program} returned no secret for ${serverUrl}`);
    return undefined;
  }
  onSecret(secret);
  const source = `credential helper ${program}`;
  if (username === '<token>') return { kind: 'identity-token', token: secret, source };
  return { kind: 'basic', username, password: secret, source };
}
