// Closing the client: a failing close() must neither hide the error the work failed with nor
// fail work that succeeded.
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../../src/base/errors.js';
import { createMemoryLogger } from '../../src/base/logger.js';
import type { RegistryClient } from '../../src/registry/client-types.js';
import { useClient } from '../../src/engine/client-setup.js';

function clientClosingWith(failure?: Error): RegistryClient & { closed: number } {
  const client = {
    closed: 0,
    async close() {
      client.closed++;
      if (failure) throw failure;
    },
  };
  return client as unknown as RegistryClient & { closed: number };
}

describe('useClient', () => {
  it('rethrows the error of the work, not the failure of close()', async () => {
    const logger = createMemoryLogger();
    const client = clientClosingWith(new Error('socket hang up while closing'));
    const real = new HttpError('NOT_FOUND', 'Manifest x not found', { method: 'GET', url: 'https://r/v2/x/manifests/1' }, 404);
    await expect(
      useClient(client, logger, async () => {
        throw real;
      }),
    ).rejects.toBe(real);
    expect(client.closed).toBe(1);
    expect(logger.lines).toEqual(['warning: Closing the registry connections failed: socket hang up while closing']);
  });

  it('returns what the work returned when close() fails', async () => {
    const logger = createMemoryLogger();
    const client = clientClosingWith(new Error('boom'));
    await expect(useClient(client, logger, async () => 42)).resolves.toBe(42);
    expect(client.closed).toBe(1);
  });

  it('closes after success and failure alike', async () => {
    const client = clientClosingWith();
    await useClient(client, createMemoryLogger(), async () => 1);
    await useClient(client, createMemoryLogger(), async () => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(client.closed).toBe(2);
  });
});
