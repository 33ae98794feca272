// Request statistics: every exchange counted by kind, but not a failed HTTPS probe.
import { describe, expect, it } from '@jest/globals';
import { caught } from '../../support/caught.js';
import { ok } from '../../support/registry-clients.js';
import { counted, RequestCounter } from '../../../src/registry/transport/stats.js';
import type { Exchange, Send } from '../../../src/registry/transport/http.js';

describe('stats layer (alone)', () => {
  it('counts answered and failed exchanges by kind, but not a failed HTTPS probe', async () => {
    const counter = new RequestCounter();
    const failing: Send = () => Promise.reject(new Error('ECONNREFUSED'));
    const exchange = (kind: string, probe = false): Exchange => ({ url: 'https://r/v2/', method: 'GET', headers: {}, kind, probe });
    await counted(ok, counter)(exchange('GET manifest'));
    await caught(counted(failing, counter)(exchange('GET manifest')));
    await caught(counted(failing, counter)(exchange('GET manifest', true)));
    await counted(ok, counter)(exchange('GET token'));
    expect(counter.stats()).toEqual({ requests: 3, byKind: { 'GET manifest': 2, 'GET token': 1 }, retries: 0 });
  });
});
