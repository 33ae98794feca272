// Every error kind manifest-merge raises, in one place (regclient's types/errs is the model).
// An error carries facts (kind, registry, repository, reference, status, registry error codes)
// and a surface-neutral hint; `renderError(error, words)` turns them into the one message a
// user reads, with advice in the words of where they are: each surface holds its own vocabulary
// (action/wording.ts speaks of inputs and docker/login-action, cli/wording.ts of flags and
// `docker login`). Callers branch on kind through the
// predicates at the bottom, never on message text.
import { redactSecrets } from './redact.js';

export type ErrorCode =
  | 'USAGE' // the CLI's command line does not parse (exit 2)
  | 'INPUT' // an action input or CLI flag value is missing or malformed
  | 'REFERENCE' // an image reference does not parse
  | 'PLATFORM' // malformed, duplicate, missing or extra platform
  | 'UNSUPPORTED_MEDIA_TYPE' // schema 1, unknown manifest type, or a type the chosen format cannot hold
  | 'INVALID_MANIFEST' // a registry served a manifest that contradicts itself or its descriptor
  | 'DIGEST_MISMATCH' // bytes read do not hash to (or are not the size of) what they were asked for
  | 'TOO_LARGE' // a manifest, blob read whole, or a registry's chunk demand over its limit
  | 'HTTP' // a registry answered with an unexpected status
  | 'UNAUTHORIZED' // 401: no or wrong credentials
  | 'DENIED' // 403 / DENIED / insufficient_scope: credentials lack the permission
  | 'NOT_FOUND' // 404: manifest or blob unknown
  | 'RATE_LIMITED' // 429 after all retries
  | 'NETWORK' // connection failed / reset after all retries
  | 'CREDENTIALS' // a credential helper or config.json could not be used
  | 'VERIFY' // read-back of a pushed tag gave another digest
  | 'CONFLICT' // another writer changed a tag while this run was writing it (append race)
  | 'TIMEOUT' // the time budget (or one wait within it) ran out
  | 'IMAGES' // some images of a spec failed (each is named, with its own error)
  | 'LAYOUT' // an oci-layout:// source is not a readable OCI image layout (missing file or blob, bad digest, unsafe tar)
  | 'ATTESTATIONS' // an image lacks a kind of attestation `require-attestations` asks for (nothing was written)
  | 'SIGNING'; // signing or attesting failed: no identity token, a refused token, a Sigstore service unreachable or refusing

/** What an error is about. Every field is optional: each error fills in what it knows. */
export interface ErrorFacts {
  registry?: string;
  repository?: string;
  /** tag or digest */
  reference?: string;
  /** HTTP method and URL of the failing request (URL without credentials or signed query parameters) */
  method?: string;
  url?: string;
  status?: number;
  /** the registry's own `errors[].code` values */
  registryCodes?: string[];
  /** which wait timed out: 'registry' | 'token service' | 'credential helper' | … */
  wait?: string;
}

export interface ErrorOptions extends ErrorFacts {
  cause?: unknown;
  /**
   * What the user should do about it. May use `{term}` placeholders from the advice vocabulary
   * below ({login}, {credentials}, {timeout}, {insecure}, {platforms}, {append}, {attestations},
   * {referrers}, {format}, {username}, {password}, {rerun}); `renderError` words them for the surface.
   */
  hint?: string;
}

/** Base of every error manifest-merge raises on purpose (an "expected" failure: no stack trace shown). */
export class ManifestMergeError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly facts: ErrorFacts;
  /** the message without advice */
  readonly summary: string;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    // `message` words the advice neutrally, so a plain `error.message` still reads whole; users see renderError's
    super(
      options.hint ? `${message}. ${capitalise(renderHint(options.hint, NEUTRAL_WORDS))}` : message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.summary = message;
    this.hint = options.hint;
    const { cause: _cause, hint: _hint, ...facts } = options;
    this.facts = facts;
  }

  get status(): number | undefined {
    return this.facts.status;
  }
}

/** The CLI's command line does not parse: unknown flag, missing argument (exit 2). */
export class UsageError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('USAGE', message, options);
  }
}

/** A bad action input or CLI flag value. */
export class InputError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('INPUT', message, options);
  }
}

/** Signing or attesting could not be done (sign, attest): nothing was tagged. */
export class SigningError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SIGNING', message, options);
  }
}

/** An image reference that does not follow the distribution reference grammar. */
export class InvalidReferenceError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('REFERENCE', message, options);
  }
}

/** A platform that is malformed, missing, extra or claimed by two sources. */
export class PlatformError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('PLATFORM', message, options);
  }
}

export class UnsupportedMediaTypeError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('UNSUPPORTED_MEDIA_TYPE', message, options);
  }
}

/** A registry served a manifest that contradicts its own headers or the descriptor it was reached by. */
export class InvalidManifestError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('INVALID_MANIFEST', message, options);
  }
}

export class DigestMismatchError extends ManifestMergeError {
  constructor(
    readonly subject: string,
    readonly expected: string,
    readonly actual: string,
    options: ErrorOptions = {},
  ) {
    super('DIGEST_MISMATCH', `${subject}: content digest mismatch: expected ${expected}, got ${actual}`, {
      hint: 'The registry (or something between it and this runner) served altered or truncated bytes; nothing was written. Retry, and if it persists check proxies and the registry storage',
      ...options,
    });
  }
}

export class TooLargeError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TOO_LARGE', message, options);
  }
}

export class CredentialsError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CREDENTIALS', message, options);
  }
}

export class VerifyError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('VERIFY', message, options);
  }
}

/** Another writer changed the tag between this run's read and its write, and kept winning. */
export class ConflictError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/** What became of one tag a failed merge had already moved (see TagsRestoredError). */
export interface TagRestore {
  /** `registry/repository:tag` */
  tag: string;
  /** the digest it held before the merge; absent: the tag did not exist */
  previous?: string;
  /** `restored`: back at `previous`; `deleted`: removed again (it did not exist); `failed`: still at `current` */
  outcome: 'restored' | 'deleted' | 'failed';
  /** failed: the digest the tag holds now (the merge's index) */
  current?: string;
  /** failed: why it could not be put back */
  reason?: string;
}

/**
 * A tag write failed after other tags of the same merge had moved (a registry with immutable tags
 * refused one after another had taken it): those were put back where they were, or deleted where
 * they did not exist, and `tags` says what became of each. The kind, facts and `cause` are the
 * failure's own, so the error says first what went wrong and where.
 */
export class TagsRestoredError extends ManifestMergeError {
  constructor(
    failure: ManifestMergeError,
    message: string,
    readonly tags: TagRestore[],
    options: { hint?: string } = {},
  ) {
    super(failure.code, message, { ...failure.facts, hint: options.hint, cause: failure });
  }
}

/** Some images of a multi-image spec failed; the others completed. */
export class ImagesFailedError extends ManifestMergeError {
  constructor(
    message: string,
    readonly failures: unknown[],
    options: ErrorOptions = {},
  ) {
    super('IMAGES', message, options);
  }
}

/** An `oci-layout://` source that cannot be used as it is; the message names its path. */
export class LayoutError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('LAYOUT', message, options);
  }
}

/** Images lack attestations `require-attestations` asks for; the message names each image, its platform and what it lacks. */
export class MissingAttestationsError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('ATTESTATIONS', message, options);
  }
}

export class TimeoutError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TIMEOUT', message, { hint: TIME_BUDGET_HINT, ...options });
  }
}

export class NetworkError extends ManifestMergeError {
  constructor(
    message: string,
    readonly request: { method: string; url: string },
    options: ErrorOptions = {},
  ) {
    super('NETWORK', message, { method: request.method, url: request.url, ...options });
  }
}

/** One entry of a registry's `{"errors": [...]}` body (distribution spec). */
export interface RegistryErrorDetail {
  code: string;
  message?: string;
  detail?: unknown;
}

/**
 * A registry answered with a status the operation did not expect. `code` follows the status
 * (401 UNAUTHORIZED, 403 DENIED, 404 NOT_FOUND, 429 RATE_LIMITED, else HTTP); the message names
 * the request (method, URL without credentials), the status and the registry's own error codes.
 */
export class HttpError extends ManifestMergeError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly request: { method: string; url: string },
    status: number,
    readonly registryErrors: RegistryErrorDetail[] = [],
    options: ErrorOptions = {},
  ) {
    super(code, message, {
      method: request.method,
      url: request.url,
      status,
      registryCodes: registryErrors.map((e) => e.code),
      ...options,
    });
  }

  override get status(): number {
    return this.facts.status!;
  }
}

/**
 * A failure worth another attempt (a 5xx, a 429, a reset connection). Raised inside the retry
 * layer only, which retries it and, once attempts or time run out, throws `final` instead.
 */
export class TransientError extends ManifestMergeError {
  constructor(
    readonly final: ManifestMergeError,
    readonly reason: string,
    readonly retryAfterMs?: number,
  ) {
    super(final.code, final.summary, { ...final.facts, hint: final.hint, cause: final });
  }
}

export function errorCodeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 429) return 'RATE_LIMITED';
  return 'HTTP';
}

// ---- predicates: branch on these, never on `code` strings or statuses -----------------------

function codeOf(error: unknown): ErrorCode | undefined {
  return error instanceof ManifestMergeError ? error.code : undefined;
}

export const isNotFound = (error: unknown): boolean => codeOf(error) === 'NOT_FOUND';
export const isUnauthorized = (error: unknown): boolean => codeOf(error) === 'UNAUTHORIZED';
export const isDenied = (error: unknown): boolean => codeOf(error) === 'DENIED';
export const isTimeout = (error: unknown): boolean => codeOf(error) === 'TIMEOUT';
export const isDigestMismatch = (error: unknown): boolean => codeOf(error) === 'DIGEST_MISMATCH';
export const isConflict = (error: unknown): boolean => codeOf(error) === 'CONFLICT';
/** A status error from a registry (any status), with the request it answered. */
export const isHttpError = (error: unknown): error is HttpError => error instanceof HttpError;
/** The user's own input or command line is wrong (the CLI exits 2). */
export const isUsageOrInput = (error: unknown): boolean => codeOf(error) === 'USAGE' || codeOf(error) === 'INPUT';

/** True for failures we raised on purpose: shown as one message, no stack trace. */
export function isExpectedError(error: unknown): error is ManifestMergeError {
  return error instanceof ManifestMergeError;
}

// ---- advice per surface ------------------------------------------------------------------------

/** What the time budget is and how to raise it; every TimeoutError carries it unless it says more. */
export const TIME_BUDGET_HINT =
  "The step must finish within its time budget ({timeout}; default 10m). Check the registry's status page and retry later, or raise the budget";

/** The `{term}` placeholders a hint may use; each surface words every one of them (action/, cli/). */
export const ADVICE_TERMS = [
  'login',
  'credentials',
  'timeout',
  'insecure',
  'platforms',
  'append',
  'attestations',
  'referrers',
  'format',
  'username',
  'password',
  'rerun',
  'sources',
  'tags',
  'annotations',
  'artifacttype',
  'requireattestations',
] as const;
export type AdviceTerm = (typeof ADVICE_TERMS)[number];

/** One surface's words for every advice term: the action's inputs and docker/login-action, the CLI's flags and `docker login`. */
export type Vocabulary = Readonly<Record<AdviceTerm, string>>;

/**
 * The words of `error.message`, which no user of either surface reads (each renders with its own
 * vocabulary): the setting's name as both surfaces share it, for logs and for code that catches.
 */
const NEUTRAL_WORDS: Vocabulary = {
  login: 'log in to that registry first (or give credentials explicitly)',
  credentials: 'explicit credentials',
  timeout: '`timeout`',
  insecure: '`insecure-registries`',
  platforms: '`platforms`',
  append: '`append`',
  attestations: '`attestations`',
  referrers: '`referrers`',
  format: '`format`',
  username: '`username`',
  password: '`password`',
  rerun: 'run it again',
  sources: 'the sources',
  tags: 'the tags',
  annotations: '`annotations`',
  artifacttype: '`artifact-type`',
  requireattestations: '`require-attestations`',
};

/** Words a hint's `{term}` placeholders with `words`; unknown placeholders are left as written. */
export function renderHint(hint: string, words: Vocabulary): string {
  return hint.replace(/\{([a-z]+)\}/g, (whole, term: string, offset: number) => {
    if (!Object.hasOwn(words, term)) return whole;
    // a placeholder that starts a sentence after the first ("… were looked for in: X. {login}; …") starts with a capital
    return offset > 0 && /[.!?]\s+$/.test(hint.slice(0, offset)) ? capitalise(words[term as AdviceTerm]) : words[term as AdviceTerm];
  });
}

/** The advice for `error` in `words`, or undefined when it has none. */
export function adviceFor(error: unknown, words: Vocabulary): string | undefined {
  return error instanceof ManifestMergeError && error.hint ? renderHint(error.hint, words) : undefined;
}

/**
 * The one message a user reads: what went wrong and what to do, in a surface's `words`, with every
 * known secret and anything shaped like a credential redacted (a registry may echo them).
 */
export function renderError(error: unknown, words: Vocabulary): string {
  let text: string;
  if (error instanceof ManifestMergeError) {
    const advice = adviceFor(error, words);
    text = advice ? `${error.summary}. ${capitalise(advice)}` : error.summary;
  } else if (error instanceof Error) {
    text = error.message;
  } else {
    text = String(error);
  }
  return redactSecrets(text);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
