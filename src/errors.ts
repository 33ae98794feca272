// Every error kind manifest-merge raises, in one place. Callers branch on `code`
// (or instanceof), never on message text. Messages are written for the person
// reading a failed CI step: what was wrong, which image/input, and what to do.

export type ErrorCode =
  | 'INPUT' // an action input or CLI flag is missing or malformed
  | 'REFERENCE' // an image reference does not parse
  | 'PLATFORM' // malformed, duplicate, missing or extra platform
  | 'UNSUPPORTED_MEDIA_TYPE' // schema 1, unknown manifest type, or a type the chosen format cannot hold
  | 'DIGEST_MISMATCH' // bytes read do not hash to the digest they were asked for
  | 'TOO_LARGE' // a manifest over the size limit
  | 'HTTP' // a registry answered with an unexpected status
  | 'UNAUTHORIZED' // 401: no or wrong credentials
  | 'DENIED' // 403 / DENIED: credentials lack the permission
  | 'NOT_FOUND' // 404: manifest or blob unknown
  | 'RATE_LIMITED' // 429 after all retries
  | 'NETWORK' // connection failed / reset / timed out after all retries
  | 'CREDENTIALS' // a credential helper or config.json could not be used
  | 'VERIFY' // read-back of a pushed tag gave another digest
  | 'TIMEOUT'; // the overall time budget ran out

export interface ErrorOptions {
  cause?: unknown;
  /** what the user should do about it; appended to the message */
  hint?: string;
}

/** Base of every error manifest-merge raises on purpose (an "expected" failure: no stack trace shown). */
export class ManifestMergeError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(options.hint ? `${message}. ${options.hint}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** A bad action input or CLI flag. */
export class InputError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('INPUT', message, options);
  }
}

/** An image reference that does not follow the distribution reference grammar. */
export class ReferenceError extends ManifestMergeError {
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

export class TimeoutError extends ManifestMergeError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TIMEOUT', message, options);
  }
}

export class NetworkError extends ManifestMergeError {
  constructor(
    message: string,
    readonly request: { method: string; url: string },
    options: ErrorOptions = {},
  ) {
    super('NETWORK', message, options);
  }
}

/** One entry of a registry's `{"errors": [...]}` body (distribution spec). */
export interface RegistryErrorDetail {
  code: string;
  message?: string;
  detail?: unknown;
}

/**
 * A registry answered with a status the operation did not expect. The subclass
 * follows the status (401 Unauthorized, 403 Denied, 404 NotFound, 429 RateLimited);
 * the message names the request (method, URL without credentials), the status and
 * the registry's own error codes.
 */
export class HttpError extends ManifestMergeError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly request: { method: string; url: string },
    readonly status: number,
    readonly registryErrors: RegistryErrorDetail[] = [],
    options: ErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

export function errorCodeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 429) return 'RATE_LIMITED';
  return 'HTTP';
}

/** True for failures we raised on purpose: shown as one message, no stack trace. */
export function isExpectedError(error: unknown): error is ManifestMergeError {
  return error instanceof ManifestMergeError;
}

/** Message for the user: the error's message, plus its cause's when it adds something. */
export function describeError(error: unknown): string {
  if (error instanceof ManifestMergeError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
