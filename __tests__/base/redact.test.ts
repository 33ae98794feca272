// Redaction and escaping (src/base/redact.ts): registered secrets and anything shaped like a
// credential become ***; registry-served text loses its escape sequences and cannot start a
// new log line (where `::` would be a workflow command) or drive the terminal.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { clearSecrets, redactSecrets, registerSecret, sanitizeForTerminal, sanitizeLine } from '../../src/base/redact.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5In1dfQ.c2lnbmF0dXJlLWJ5dGVz';
const basic = (userPass: string) => Buffer.from(userPass, 'utf8').toString('base64');

beforeEach(() => clearSecrets());
afterEach(() => clearSecrets());

describe('redactSecrets: registered secrets', () => {
  it.each<[string, string[], string, string]>([
    ['a password echoed in an error body', ['hunter2-secret'], 'invalid password hunter2-secret for ci', 'invalid password *** for ci'],
    ['every occurrence', ['s3cr3t!'], 's3cr3t! and s3cr3t!', '*** and ***'],
    [
      'base64 of user:pass, registered as sent',
      [basic('ci:hunter2-secret')],
      `bad credentials ${basic('ci:hunter2-secret')}`,
      'bad credentials ***',
    ],
    ['longest first: a secret containing another', ['hunter2', 'hunter2-and-more'], 'x hunter2-and-more y hunter2', 'x *** y ***'],
    [
      'a token inside a URL',
      ['tok-0123456789'],
      'GET https://r.example/v2/?t=tok-0123456789 failed',
      'GET https://r.example/v2/?t=*** failed',
    ],
  ])('%s', (_name, secrets, text, redacted) => {
    for (const secret of secrets) registerSecret(secret);
    expect(redactSecrets(text)).toBe(redacted);
  });

  it.each<[string, string | undefined]>([
    ['empty', ''],
    ['undefined', undefined],
    ['shorter than 4 characters', 'abc'],
  ])('does not register a secret that is %s (it would mangle ordinary text)', (_name, secret) => {
    registerSecret(secret);
    expect(redactSecrets('abc def abc')).toBe('abc def abc');
  });

  it('registers a secret of exactly 4 characters', () => {
    registerSecret('pa55');
    expect(redactSecrets('pa55word')).toBe('***word');
  });

  it('forgets every secret on clearSecrets', () => {
    registerSecret('hunter2-secret');
    clearSecrets();
    expect(redactSecrets('hunter2-secret')).toBe('hunter2-secret');
  });
});

describe('redactSecrets: text shaped like a credential, registered or not', () => {
  it.each<[string, string, string]>([
    ['an Authorization header echoed back (Basic)', `Authorization: Basic ${basic('ci:pw')}`, 'Authorization: Basic ***'],
    ['an Authorization header echoed back (Bearer)', 'authorization: Bearer abc.def', 'authorization: Bearer ***'],
    ['an Authorization field in JSON', '{"authorization":"Bearer abc.def"}', '{"authorization":"Bearer ***"}'],
    ['a Basic value of user:pass alone', `sent Basic ${basic('ci:hunter2-secret')}`, 'sent Basic ***'],
    ['a Bearer token alone', 'got Bearer tok-ABCDEF-0123456789', 'got Bearer ***'],
    ['a JWT', `token ${JWT} was rejected`, 'token *** was rejected'],
    ['user:pass@ in a URL', 'GET https://ci:hunter2@ghcr.io/v2/ failed', 'GET https://***@ghcr.io/v2/ failed'],
    ['a password field in JSON', '{"username":"ci","password":"hunter2"}', '{"username":"ci","password":"***"}'],
    ['a token field in JSON', '{"token":"abc","expires_in":300}', '{"token":"***","expires_in":300}'],
    [
      'an access_token in a form body',
      'grant_type=refresh_token&access_token=abc123&scope=x',
      'grant_type=refresh_token&access_token=***&scope=x',
    ],
    ['a refresh_token field', '"refresh_token": "r-123"', '"refresh_token": "***"'],
    ['an identitytoken in a docker config', '{"identitytoken":"id-123"}', '{"identitytoken":"***"}'],
    ['an auth field of a docker config', `{"auth":"${basic('ci:pw')}"}`, '{"auth":"***"}'],
  ])('%s', (_name, text, redacted) => {
    expect(redactSecrets(text)).toBe(redacted);
  });

  it.each<[string, string]>([
    ['a registry error', 'MANIFEST_UNKNOWN: manifest unknown'],
    ['a 401 challenge', 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/app:pull"'],
    ['words that name a credential without giving one', 'authentication required; basic auth failed'],
    ['a reference and digest', `ghcr.io/acme/app@sha256:${'a'.repeat(64)}`],
    ['a URL without userinfo', 'https://ghcr.io/v2/acme/app/manifests/1'],
  ])('leaves ordinary text alone: %s', (_name, text) => {
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('sanitizeLine: registry text made safe for one log line', () => {
  it.each<[string, string, string]>([
    ['plain text', 'manifest unknown', 'manifest unknown'],
    ['non-ASCII text', 'café ✓ 镜像', 'café ✓ 镜像'],
    ['a tab is kept', 'a\tb', 'a\tb'],
    ['colours (CSI)', '\u001b[31mred\u001b[0m', 'red'],
    ['cursor movement and erase (CSI)', 'a\u001b[2K\u001b[1Ab', 'ab'],
    ['a window title (OSC ended by BEL)', '\u001b]0;pwned\u0007text', 'text'],
    ['a hyperlink (OSC ended by ST)', '\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\', 'click'],
    ['a two-character escape (reverse index)', 'a\u001bMb', 'ab'],
    ['an escape outside ESC @…_ is shown, not sent (full reset)', 'a\u001bcb', 'a\\u001bcb'],
    ['a workflow command after a newline', 'denied\n::add-mask::x', 'denied\\n::add-mask::x'],
    ['a workflow command after CRLF', 'denied\r\n::set-output name=digest::sha256:evil', 'denied\\n::set-output name=digest::sha256:evil'],
    ['a bare carriage return (overwrites the line)', 'ok\r::error::forged', 'ok\\n::error::forged'],
    ['NUL', 'a\u0000b', 'a\\u0000b'],
    ['BEL', 'a\u0007b', 'a\\u0007b'],
    ['a lone ESC at the end', 'a\u001b', 'a\\u001b'],
    ['DEL', 'a\u007fb', 'a\\u007fb'],
    ['a C1 control (single-byte CSI)', 'a\u009b31mb', 'a\\u009b31mb'],
    ['a Unicode line separator', 'a\u2028::warning::x', 'a\\u2028::warning::x'],
    ['a Unicode paragraph separator', 'a\u2029b', 'a\\u2029b'],
  ])('%s', (_name, text, safe) => {
    const line = sanitizeLine(text);
    expect(line).toBe(safe);
    // nothing that ends a line or starts an escape sequence is left
    for (const c of ['\n', '\r', '\u001b', '\u2028', '\u2029']) expect(line).not.toContain(c);
  });
});

describe('sanitizeForTerminal: registry text for a terminal, lines kept', () => {
  it.each<[string, string, string]>([
    ['newlines are kept', 'line one\nline two', 'line one\nline two'],
    ['CRLF and CR become newlines', 'a\r\nb\rc', 'a\nb\nc'],
    ['escape sequences are removed', '\u001b[1mbold\u001b[0m\n\u001b]0;title\u0007x', 'bold\nx'],
    ['controls are shown, line by line', 'a\u0000\nb\u0007', 'a\\u0000\nb\\u0007'],
    ['a Unicode line separator does not break the line', 'a\u2028b', 'a\\u2028b'],
  ])('%s', (_name, text, safe) => {
    expect(sanitizeForTerminal(text)).toBe(safe);
  });
});
