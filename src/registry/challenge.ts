// What a registry's 401 says and what a token must grant, as data: the WWW-Authenticate grammar
// (several challenges, quoted values, token68) and scope sets ("repository:acme/app:pull,push"),
// merged, compared and printed. Pure; auth.ts uses it to answer challenges and cache tokens.
import type { Scope } from './client-types.js';

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

// ---------------------------------------------------------------------------------------------
// Scopes: "repository:acme/app:pull,push". Kept as resource ("repository:acme/app") → actions.

export type ScopeSet = Map<string, Set<string>>;

const ACTION_RANK: Record<string, number> = { pull: 0, push: 1 };

function sortActions(actions: Iterable<string>): string[] {
  return [...actions].sort((a, b) => (ACTION_RANK[a] ?? 2) - (ACTION_RANK[b] ?? 2) || (a < b ? -1 : a > b ? 1 : 0));
}

function addToSet(set: ScopeSet, resource: string, actions: Iterable<string>): void {
  let existing = set.get(resource);
  for (const action of actions) {
    if (!action) continue;
    if (!existing) {
      existing = new Set();
      set.set(resource, existing);
    }
    existing.add(action);
  }
}

export function scopeSetFrom(scopes: Scope[]): ScopeSet {
  const set: ScopeSet = new Map();
  for (const scope of scopes) addToSet(set, `repository:${scope.repository}`, scope.actions);
  return set;
}

/** Parses a challenge's `scope` parameter: space-separated `type:name:action,action` strings. */
export function parseScopeParam(value: string | undefined): ScopeSet {
  const set: ScopeSet = new Map();
  if (!value) return set;
  for (const part of value.split(/\s+/)) {
    const last = part.lastIndexOf(':');
    const first = part.indexOf(':');
    if (first <= 0 || last <= first) continue;
    addToSet(set, part.slice(0, last), part.slice(last + 1).split(','));
  }
  return set;
}

export function unionScopeSets(...sets: ScopeSet[]): ScopeSet {
  const union: ScopeSet = new Map();
  for (const set of sets) for (const [resource, actions] of set) addToSet(union, resource, actions);
  return union;
}

export function coversScopes(granted: ScopeSet, wanted: ScopeSet): boolean {
  for (const [resource, actions] of wanted) {
    const have = granted.get(resource);
    if (!have) return false;
    if (have.has('*')) continue;
    for (const action of actions) if (!have.has(action)) return false;
  }
  return true;
}

export function formatScopeSet(set: ScopeSet): string[] {
  return [...set.keys()]
    .sort()
    .map((resource) => `${resource}:${sortActions(set.get(resource) ?? []).join(',')}`);
}

/** "repository:acme/app:pull,push" strings; merges actions per repository, deterministic order. */
export function formatScopes(scopes: Scope[]): string[] {
  return formatScopeSet(scopeSetFrom(scopes));
}
