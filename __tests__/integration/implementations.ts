// The registry implementations the integration suites run against, for `describe.each`. Every
// implementation runs by default (CI runs them all); MANIFEST_MERGE_IMPLEMENTATIONS=ggcr,… narrows
// a local run, and a name it does not know is an error, never a silently empty suite.
import { describe } from '@jest/globals';
import {
  EXTRA_IMPLEMENTATION_NAMES,
  IMPLEMENTATIONS,
  IMPLEMENTATION_NAMES,
  type RegistryCapabilities,
  type RegistryImplementation,
} from '../../scripts/support/registry.js';

function selected(): RegistryImplementation[] {
  const wanted = (process.env.MANIFEST_MERGE_IMPLEMENTATIONS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0) return IMPLEMENTATION_NAMES;
  const unknown = wanted.filter(
    (name) => ![...IMPLEMENTATION_NAMES, ...EXTRA_IMPLEMENTATION_NAMES].includes(name as RegistryImplementation),
  );
  if (unknown.length > 0)
    throw new Error(`MANIFEST_MERGE_IMPLEMENTATIONS: unknown ${unknown.join(', ')} (known: ${IMPLEMENTATION_NAMES.join(', ')})`);
  return wanted as RegistryImplementation[];
}

/** `[name, capabilities]` rows: `describe.each(IMPLEMENTATION_ROWS)('on %s', (implementation, can) => …)`. */
export const IMPLEMENTATION_ROWS: Array<[RegistryImplementation, RegistryCapabilities]> = selected()
  .filter((name) => IMPLEMENTATION_NAMES.includes(name))
  .map((name) => [name, IMPLEMENTATIONS[name]]);

/** Every selected implementation, the extra ones too (EXTRA_IMPLEMENTATION_NAMES): for the checks of what IMPLEMENTATIONS claims. */
export const ALL_IMPLEMENTATION_ROWS: Array<[RegistryImplementation, RegistryCapabilities]> = [
  ...IMPLEMENTATION_ROWS,
  ...(process.env.MANIFEST_MERGE_IMPLEMENTATIONS ? selected() : EXTRA_IMPLEMENTATION_NAMES)
    .filter((name) => EXTRA_IMPLEMENTATION_NAMES.includes(name))
    .map((name): [RegistryImplementation, RegistryCapabilities] => [name, IMPLEMENTATIONS[name]]),
];

/** The selected implementations that have `auth` mode. */
export function withAuth(auth: RegistryCapabilities['auth'][number]): Array<[RegistryImplementation, RegistryCapabilities]> {
  return IMPLEMENTATION_ROWS.filter(([, can]) => can.auth.includes(auth));
}

/** The implementation after `name` in the full list (wrapping): a second registry that is another implementation. */
export function otherImplementation(name: RegistryImplementation): RegistryImplementation {
  return IMPLEMENTATION_NAMES[(IMPLEMENTATION_NAMES.indexOf(name) + 1) % IMPLEMENTATION_NAMES.length];
}

/**
 * `describe.each` over the selected implementations that have `auth` mode. The full list always
 * has some (CI); a local run narrowed to implementations without it defines no suite, as jest
 * refuses an empty table.
 */
export function describeEachWithAuth(
  auth: RegistryCapabilities['auth'][number],
  title: string,
  body: (implementation: RegistryImplementation, can: RegistryCapabilities) => void,
): void {
  const rows = withAuth(auth);
  if (rows.length > 0) describe.each(rows)(title, body);
}
