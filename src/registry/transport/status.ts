// Status to typed error: a response the caller does not handle becomes an HttpError with facts
// (registry, repository, reference, method, URL without secrets, status, the registry's own
// error codes) and advice worded through `{term}` placeholders, so each surface renders its own.
// Failures worth another attempt (RETRYABLE_STATUS, transient network codes) are wrapped in a
// TransientError for the retry layer.
import { STATUS_CODES } from 'node:http';
import {
  HttpError,
  ManifestMergeError,
  NetworkError,
  TimeoutError,
  TransientError,
  errorCodeForStatus,
  type RegistryErrorDetail,
} from '../../base/errors.js';
import { RETRYABLE_STATUS, parseRetryAfter } from './retry.js';
import { discard, readBounded } from './body.js';
import { headerValue, type CredentialLookup, type HttpRequest, type HttpResponse, type Method, type Scope } from './http.js';

/** Error bodies are read this far, no further (a hostile registry may send gigabytes). */
export const ERROR_BODY_LIMIT = 64 * 1024;

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

export function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 3; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isTransientNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  if (code && TRANSIENT_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /socket hang up|other side closed|premature close/i.test(message);
}

export function reasonOf(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** URL for messages and logs: no user info, signed query parameters (object storage, upload state) elided. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const base = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  if (!parsed.search) return base;
  const query = parsed.search
    .slice(1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0];
      return /sig|token|credential|key|auth|secret|state|policy|password/i.test(safeDecode(name)) ? `${name}=REDACTED` : pair;
    })
    .join('&');
  return `${base}?${query}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Parses a distribution `{"errors":[{code,message,detail}]}` body; anything else gives []. */
export function parseRegistryErrors(text: string): RegistryErrorDetail[] {
  try {
    return registryErrorsOf(JSON.parse(text));
  } catch {
    return [];
  }
}

/** The `errors[]` of a parsed distribution error body (entries without a string `code` are left out). */
export function registryErrorsOf(body: unknown): RegistryErrorDetail[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string')
    .map((e) => {
      const detail: RegistryErrorDetail = { code: e.code as string };
      if (typeof e.message === 'string') detail.message = e.message;
      if (e.detail !== undefined) detail.detail = e.detail;
      return detail;
    });
}

/** Reads at most `limit` bytes of a body; a broken body only loses what was not read yet. */
export async function readLimited(body: HttpResponse['body'], limit = ERROR_BODY_LIMIT): Promise<Buffer> {
  // the status is what matters: a body cut off or failing still says what it said so far
  return (await readBounded(body, limit)).bytes;
}

/** The registry's `errors[]` from an error response (nothing for HEAD, which has no body). */
export async function readErrors(response: Pick<HttpResponse, 'method' | 'body'>): Promise<RegistryErrorDetail[]> {
  if (response.method === 'HEAD') {
    await discard(response.body);
    return [];
  }
  return parseRegistryErrors((await readLimited(response.body)).toString('utf8'));
}

type Described = Pick<HttpRequest, 'what' | 'method' | 'registry'> & { scopes?: Scope[]; facts?: HttpRequest['facts'] };

export interface StatusErrorsOptions {
  credentials: CredentialLookup;
  /** where the credentials answering `registry`'s challenges came from; undefined while anonymous */
  credentialSource(registry: string): string | undefined;
}

export class StatusErrors {
  constructor(private readonly options: StatusErrorsOptions) {}

  /**
   * Throws unless the caller handles `response.status`: an HttpError, wrapped in a TransientError
   * when the status is worth another attempt (with the registry's Retry-After).
   */
  async check(req: HttpRequest, response: HttpResponse): Promise<HttpResponse> {
    if (req.expect.includes(response.status)) return response;
    const errors = await readErrors(response);
    const error = this.statusError(req, response.url, response.status, errors);
    if (RETRYABLE_STATUS.has(response.status)) {
      const retryAfter = parseRetryAfter(headerValue(response.headers, 'retry-after'));
      throw new TransientError(
        error,
        `${req.method} returned ${response.status} ${STATUS_CODES[response.status] ?? ''}`.trim(),
        retryAfter,
      );
    }
    throw error;
  }

  statusError(req: Described, url: string, status: number, errors: RegistryErrorDetail[], insufficientScope = false): HttpError {
    const codes = errors.map((e) => e.code);
    let head: string;
    let hint: string | undefined;
    let code = errorCodeForStatus(status);
    const registry = req.registry;
    const lookup = (): string => this.options.credentials.describeLookup(registry);
    // 401 insufficient_scope to a token obtained with credentials: they work, but lack a permission
    const source = status === 401 && insufficientScope ? this.options.credentialSource(registry) : undefined;
    if (status === 404) {
      head = `${req.what} not found`;
      const reading = req.method === 'GET' || req.method === 'HEAD';
      if (reading && (/^Blob /.test(req.what) || codes.includes('BLOB_UNKNOWN')))
        hint = 'The image lists a blob that its repository does not have; push the image again';
      else if (reading)
        hint =
          'Check the reference (registry, repository, tag or digest), and that the job that builds the image pushed it before this step';
      else hint = 'The registry does not create this repository on push; create it first, or check its name';
    } else if (source !== undefined) {
      code = 'DENIED';
      const push = (req.scopes ?? []).some((s) => s.actions.includes('push'));
      const wanted = (req.scopes ?? []).map((s) => `${s.actions.join(',')} on ${s.repository}`).join(', ');
      head = `${req.what}: ${registry} denied access: the credentials from ${source} do not grant ${wanted || 'what this request needs'} (insufficient_scope)`;
      hint =
        `Check that they may ${push ? 'push to' : 'pull from'} these repositories (credentials were looked for in: ${lookup()})` +
        (push ? '; for ghcr.io with GITHUB_TOKEN, give the job `permissions: packages: write`' : '');
    } else if (status === 401) {
      head = `${req.what}: ${registry} refused the request as unauthenticated`;
      hint = `Credentials for ${registry} were looked for in: ${lookup()}. {login}; if you did, the credentials may be wrong or expired, or the repository may not exist`;
    } else if (status === 403) {
      head = `${req.what}: ${registry} denied access`;
      const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
      hint =
        `The credentials used (looked for in: ${lookup()}) may lack ${action} permission on this repository` +
        (action === 'push' ? ' (for ghcr.io with GITHUB_TOKEN, give the job `permissions: packages: write`)' : '');
    } else if (status === 429) {
      head = `${req.what}: ${registry} is rate limiting requests`;
      hint = 'Retry later; for Docker Hub, logging in raises the pull limit';
    } else {
      head = `${req.what}: unexpected response`;
      if (status >= 500) hint = 'The registry kept failing with a server error after retries with backoff; check its status and {rerun}';
    }
    if (codes.length > 0) head += ` (${codes.join(', ')})`;
    const details = errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
    const message =
      `${head}: ${req.method} ${redactUrl(url)} returned ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() +
      (details ? `: ${details}` : '');
    return new HttpError(code, message, { method: req.method, url: redactUrl(url) }, status, errors, {
      registry,
      ...req.facts,
      ...(hint ? { hint } : {}),
    });
  }
}

export function networkError(
  req: Pick<Described, 'what' | 'method' | 'registry' | 'facts'>,
  url: string,
  cause: unknown,
  doing = 'the request failed',
): NetworkError {
  const code = errorCode(cause);
  const hint =
    code === 'ENOTFOUND'
      ? 'Check the registry host name'
      : code && /CERT|SSL|TLS|SELF_SIGNED/i.test(code)
        ? 'The registry presented a TLS certificate that is not trusted; if it is a private registry on plain HTTP or with a private CA, list it in {insecure}'
        : "Connection failures are retried with backoff; this one persisted. Check the network path to the registry (proxy, firewall, VPN) and the registry's status, then {rerun}";
  return new NetworkError(
    `${req.what}: ${req.method} ${redactUrl(url)}: ${doing}: ${reasonOf(cause)}`,
    { method: req.method, url: redactUrl(url) },
    {
      cause,
      hint,
      registry: req.registry,
      ...req.facts,
    },
  );
}

/** The deadline aborted an exchange or the reading of its body. `wait` names whom we waited for. */
export function timeoutError(
  req: { what: string; method: Method | string; registry?: string; facts?: HttpRequest['facts'] },
  url: string,
  cause: unknown,
  wait = 'registry',
): TimeoutError {
  return new TimeoutError(`${req.what}: ${req.method} ${redactUrl(url)} timed out: no answer from the ${wait} within the time budget`, {
    cause,
    wait,
    method: req.method,
    url: redactUrl(url),
    registry: req.registry,
    ...req.facts,
  });
}

/** A failure of the wire (no response, or a body cut off) as a typed error; transient ones wrapped for a retry. */
export function wireFailure(
  req: Pick<Described, 'what' | 'method' | 'registry' | 'facts'>,
  url: string,
  error: unknown,
  signal: AbortSignal | undefined,
  doing = 'the request failed',
  wait = 'registry',
): ManifestMergeError {
  if (signal?.aborted) return timeoutError(req, url, error, wait);
  if (error instanceof ManifestMergeError) return error;
  const failure = networkError(req, url, error, doing);
  if (isTransientNetworkError(error))
    return new TransientError(failure, `${doing === 'the request failed' ? `${req.method} failed` : doing}: ${reasonOf(error)}`);
  return failure;
}
