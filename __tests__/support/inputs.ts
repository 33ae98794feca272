// The action's inputs as tests give them: a getInput over a record (an input not given reads as
// empty, as @actions/core reads it), and the smallest set of inputs a merge accepts.

/** `getInput` answering from `values`; inputs not listed are empty. */
export function getter(values: Record<string, string>): (name: string) => string {
  return (name: string) => values[name] ?? '';
}

/** Two sources and one tag: the least a merge needs. */
export const BASE_INPUTS = { sources: 'ghcr.io/acme/app:amd64\nghcr.io/acme/app:arm64', tags: 'ghcr.io/acme/app:latest' };
