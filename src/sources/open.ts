// Where sources come from besides registries: OCI layouts on disk (opened here, once per run,
// before any request) and Docker's digest files (digest-files.ts, read while parsing inputs).
import type { ImageReference } from '../oci/reference.js';
import { LayoutSet } from './layout-client.js';

export { LayoutSet, withLayouts } from './layout-client.js';

/**
 * Opens every layout the requests name (a bad layout fails here, before any network request) and
 * pins each layout source to its manifest's digest. Wrap the registry client with
 * `withLayouts(client, layouts)`; closing that client closes the layouts.
 *
 * `deadline` (epoch ms) is the run's one time budget, the same the registry client is given
 * (`Date.now() + settings.timeoutMs`, taken once): opening a layout that runs past it (a big
 * gzipped tar being extracted, say) stops with a TimeoutError naming the layout.
 */
export async function openSources<T extends { sources: ImageReference[] }>(
  requests: T[],
  options: { deadline?: number } = {},
): Promise<{ requests: T[]; layouts: LayoutSet }> {
  const { set, sources } = await LayoutSet.open(
    requests.flatMap((r) => r.sources),
    options,
  );
  let at = 0;
  const pinned = requests.map((r) => {
    const own = sources.slice(at, at + r.sources.length);
    at += r.sources.length;
    return { ...r, sources: own };
  });
  return { requests: pinned, layouts: set };
}
