// Status to typed error: facts and advice worded for each surface; URLs redacted for messages.
import { describe, expect, it } from '@jest/globals';

import type { CredentialProvider } from '../../../src/registry/client-types.js';
import { StatusErrors, redactUrl } from '../../../src/registry/transport/status.js';
import { renderActionError } from '../../../src/action/wording.js';
import { renderCliError } from '../../../src/cli/wording.js';

describe('status layer (alone)', () => {
  const credentials: CredentialProvider = { credentialsFor: async () => undefined, describeLookup: () => '~/.docker/config.json' };

  it('gives a 401 the facts and advice for each surface', () => {
    const error = new StatusErrors({ credentials, credentialSource: () => undefined }).statusError(
      { what: 'Manifest ghcr.io/acme/app:1', method: 'GET', registry: 'ghcr.io', facts: { repository: 'acme/app', reference: '1' } },
      'https://ghcr.io/v2/acme/app/manifests/1?X-Amz-Signature=secret',
      401,
      [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
    );
    expect(error.facts).toMatchObject({
      registry: 'ghcr.io',
      repository: 'acme/app',
      reference: '1',
      status: 401,
      method: 'GET',
      registryCodes: ['UNAUTHORIZED'],
    });
    expect(error.facts.url).toBe('https://ghcr.io/v2/acme/app/manifests/1?X-Amz-Signature=REDACTED');
    expect(renderActionError(error)).toContain('Log in with docker/login-action');
    expect(renderCliError(error)).toContain('Run `docker login` for that registry first');
    expect(renderCliError(error)).not.toMatch(/docker\/login-action|inputs?\b/);
  });

  it('redacts signed query parameters, and survives a malformed escape', () => {
    expect(redactUrl('https://s/b?sig=abc&part=1&%E0%A4%A=x')).toBe('https://s/b?sig=REDACTED&part=1&%E0%A4%A=x');
  });
});
