// Where `sign` and `attest` get their identity, the same for the action and the CLI: the
// environment, never a field (a token on a command line shows in `ps`, and an input would be
// logged with the step). cosign's convention first, SIGSTORE_ID_TOKEN, as is; else the GitHub
// Actions runtime's token request, which the runner sets only for a job granted the `id-token`
// permission (`write`). GITHUB_SERVER_URL names the server in provenance URIs; GITHUB_API_URL
// is where the attestations API is (GitHub Enterprise Server).
import type { SigningSettings } from '../engine/model.js';

export function signingFromEnvironment(env: NodeJS.ProcessEnv): SigningSettings {
  const idToken = env.SIGSTORE_ID_TOKEN?.trim();
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL?.trim();
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN?.trim();
  const serverUrl = env.GITHUB_SERVER_URL?.trim();
  const apiUrl = env.GITHUB_API_URL?.trim();
  return {
    ...(idToken ? { idToken } : {}),
    ...(requestUrl && requestToken ? { actions: { requestUrl, requestToken } } : {}),
    github: { ...(serverUrl ? { serverUrl } : {}), ...(apiUrl ? { apiUrl } : {}) },
  };
}
