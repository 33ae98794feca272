// What a token must grant, as data: scope sets ("repository:acme/app:pull,push"), kept as
// resource ("repository:acme/app") → actions, merged, compared and printed. Pure; the
// authenticator asks for them, the token cache compares them.
import type { Scope } from '../client-types.js';

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
  return [...set.keys()].sort().map((resource) => `${resource}:${sortActions(set.get(resource) ?? []).join(',')}`);
}

/** "repository:acme/app:pull,push" strings; merges actions per repository, deterministic order. */
export function formatScopes(scopes: Scope[]): string[] {
  return formatScopeSet(scopeSetFrom(scopes));
}
