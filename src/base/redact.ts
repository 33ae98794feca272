// What a registry or the user's config sends must not leak or act on the reader's screen:
// secrets are redacted from every message (a token service may echo the Authorization header
// it got), and registry-served text is escaped before it reaches a log line (where a line
// starting `::` is a workflow command) or a terminal (where ESC starts a control sequence).

/** Every secret seen this process (passwords, tokens, Basic values), longest first when redacting. */
const secrets = new Set<string>();

/** Shorter strings are not treated as secrets: redacting them would mangle ordinary text. */
const MIN_SECRET_LENGTH = 4;

/** Remembers `secret` so that no message or log line shows it (callers register encoded forms, e.g. base64 `user:pass`, themselves). */
export function registerSecret(secret: string | undefined): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return;
  secrets.add(secret);
}

/** Forgets every registered secret (tests). */
export function clearSecrets(): void {
  secrets.clear();
}

// `Authorization: Basic …` / `Bearer …` as a header echoed back, a JWT, `user:pass@` in a URL,
// and `password` / `token` fields of a JSON or form body.
const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  [/\b(authorization["']?\s*[:=]\s*["']?)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+/gi, '$1$2 ***'],
  [/\b(basic|bearer)\s+[A-Za-z0-9._~+/-]{16,}={0,2}/gi, '$1 ***'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '***'],
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***@'],
  [/(["']?(?:password|passwd|secret|token|access_token|refresh_token|identitytoken|auth)["']?\s*[:=]\s*["']?)[^"'&\s,}]+/gi, '$1***'],
];

/** `text` with every registered secret, and anything shaped like a credential, replaced by `***`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

// C0 controls but tab, DEL, C1 controls; ESC sequences (CSI, OSC, others) as a whole first.
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Registry-served text made safe for one log line: terminal escape sequences and control
 * characters removed, line breaks shown as `\n` (so nothing can start a line with `::`).
 */
export function sanitizeLine(text: string): string {
  return text
    .replace(ESCAPE_SEQUENCE, '')
    .replace(/\r\n|\r|\n/g, '\\n')
    .replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Registry-served text for a terminal that may span lines: escape sequences and controls removed, newlines kept. */
export function sanitizeForTerminal(text: string): string {
  return text
    .replace(ESCAPE_SEQUENCE, '')
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
    .join('\n');
}
