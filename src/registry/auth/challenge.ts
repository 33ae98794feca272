// What a registry's 401 says, as data: the WWW-Authenticate grammar (several challenges, quoted
// values, token68). Pure; authenticator.ts picks the challenge to answer from what it parses.

export interface AuthChallenge {
  /** lower-cased: 'basic' | 'bearer' | other */
  scheme: string;
  /** parameter names lower-cased; a token68 credential (e.g. `Negotiate abc==`) is kept under `token68` */
  params: Record<string, string>;
}

// WWW-Authenticate parsing (RFC 9110 §11.6.1): challenges separated by commas, each a scheme
// followed by a token68 or by comma-separated name=value parameters (value a token or a
// quoted-string with backslash escapes). Lenient about white space and missing commas.

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** Robust parser: several challenges in one header, quoted values with escaped quotes and commas, unquoted tokens, case-insensitive scheme and param names. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const text = header;
  const n = text.length;
  let i = 0;
  const challenges: AuthChallenge[] = [];
  let current: { scheme: string; params: Array<[string, string]> } | undefined;

  const skipSpace = (): void => {
    while (i < n && isSpace(text[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && !isSpace(text[i]) && text[i] !== ',' && text[i] !== '=' && text[i] !== '"') i++;
    return text.slice(start, i);
  };
  const readQuoted = (): string => {
    // at the opening quote
    i++;
    let value = '';
    while (i < n) {
      const c = text[i];
      if (c === '\\' && i + 1 < n) {
        value += text[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return value;
      } else {
        value += c;
        i++;
      }
    }
    return value; // unterminated: take the rest
  };
  const readValue = (): string => {
    if (text[i] === '"') return readQuoted();
    const start = i;
    while (i < n && !isSpace(text[i]) && text[i] !== ',') i++;
    return text.slice(start, i);
  };
  /** After `token` at position `at` (just past it): is this `name = value` (a parameter)? */
  const isParameterAt = (at: number): boolean => {
    let j = at;
    while (j < n && isSpace(text[j])) j++;
    if (text[j] !== '=') return false;
    j++;
    if (text[j] === '=') return false; // "abc==": token68 padding
    while (j < n && isSpace(text[j])) j++;
    return j < n && text[j] !== ',';
  };
  const finish = (): void => {
    if (current) challenges.push({ scheme: current.scheme, params: paramsRecord(current.params) });
  };

  while (i < n) {
    while (i < n && (isSpace(text[i]) || text[i] === ',')) i++;
    if (i >= n) break;
    if (text[i] === '"') {
      readQuoted(); // stray quoted string: ignore
      continue;
    }
    if (text[i] === '=') {
      i++;
      continue;
    }
    const tokenStart = i;
    const token = readToken();
    if (isParameterAt(i)) {
      skipSpace();
      i++; // '='
      skipSpace();
      const value = readValue();
      if (current) current.params.push([token.toLowerCase(), value]);
      continue;
    }
    // a bare token: `name=` with an empty value inside a challenge, or a new scheme
    let j = i;
    while (j < n && isSpace(text[j])) j++;
    if (current && text[j] === '=' && text[j + 1] !== '=' && current.params.length > 0) {
      i = j + 1;
      current.params.push([token.toLowerCase(), '']);
      continue;
    }
    if (!token) {
      i = tokenStart + 1;
      continue;
    }
    finish();
    current = { scheme: token.toLowerCase(), params: [] };
    // a token68 may follow the scheme, separated by white space only
    skipSpace();
    if (i < n && text[i] !== ',') {
      const t68Start = i;
      const t68 = readToken();
      if (t68 && !isParameterAt(i)) {
        while (i < n && text[i] === '=') i++;
        current.params.push(['token68', text.slice(t68Start, i)]);
      } else {
        i = t68Start; // parameters follow
      }
    }
  }
  finish();
  return challenges;
}

function paramsRecord(pairs: Array<[string, string]>): Record<string, string> {
  const seen = new Map<string, string>();
  for (const [name, value] of pairs) if (!seen.has(name)) seen.set(name, value);
  // fromEntries defines own properties, so a parameter named __proto__ cannot touch the prototype
  return Object.fromEntries(seen);
}
