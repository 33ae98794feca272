// Scope sets as token requests print them.
import { describe, expect, it } from '@jest/globals';
import { formatScopes } from '../../../src/registry/auth/scope.js';

describe('formatScopes', () => {
  it('merges actions per repository in a deterministic order', () => {
    expect(
      formatScopes([
        { repository: 'b/two', actions: ['push'] },
        { repository: 'a/one', actions: ['pull'] },
        { repository: 'b/two', actions: ['pull'] },
        { repository: 'a/one', actions: ['pull'] },
      ]),
    ).toEqual(['repository:a/one:pull', 'repository:b/two:pull,push']);
  });

  it('drops scopes without actions', () => {
    expect(formatScopes([{ repository: 'x', actions: [] }])).toEqual([]);
  });
});
