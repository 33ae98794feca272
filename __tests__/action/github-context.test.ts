// Input `github-annotations`: the run's repository and commit on the index (auto: ghcr.io only).
import { describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getInputs } from '../../src/action/inputs.js';

describe('github-annotations', () => {
  const env = { serverUrl: 'https://github.com', repository: 'acme/app', sha: 'f'.repeat(40) };
  const request = (tags: string, extra: Record<string, string> = {}) =>
    getInputs((name) => ({ sources: 'r.io/a:x', tags, ...extra })[name] ?? '');

  it('auto: adds source and revision for ghcr.io targets only; user annotations win', async () => {
    const { withGithubAnnotations } = await import('../../src/action/github-context.js');
    const ghcr = request('ghcr.io/acme/app:1', { annotations: 'org.opencontainers.image.source=https://example.com/mine' });
    const index = withGithubAnnotations(ghcr.images[0].request, ghcr.githubAnnotations, env).annotations!.index;
    expect({ ...index }).toEqual({
      'org.opencontainers.image.source': 'https://example.com/mine',
      'org.opencontainers.image.revision': 'f'.repeat(40),
    });
    const other = request('r.io/acme/app:1');
    expect(withGithubAnnotations(other.images[0].request, other.githubAnnotations, env)).toBe(other.images[0].request);
    const forced = request('r.io/acme/app:1', { 'github-annotations': 'true' });
    expect({ ...withGithubAnnotations(forced.images[0].request, forced.githubAnnotations, env).annotations!.index }).toEqual({
      'org.opencontainers.image.source': 'https://github.com/acme/app',
      'org.opencontainers.image.revision': 'f'.repeat(40),
    });
    const off = request('ghcr.io/acme/app:1', { 'github-annotations': 'false' });
    expect(withGithubAnnotations(off.images[0].request, off.githubAnnotations, env)).toBe(off.images[0].request);
  });

  it('the same commit gives the same index digest', async () => {
    const { withGithubAnnotations } = await import('../../src/action/github-context.js');
    const { planMerge } = await import('../../src/engine/plan.js');
    const digest = () => {
      const {
        images: [{ request: r }],
        githubAnnotations,
      } = request('ghcr.io/acme/app:1');
      const annotated = withGithubAnnotations(r, githubAnnotations, env);
      const source = {
        input: 'x',
        repository: { registry: 'r.io', repository: 'a' },
        digest: 'sha256:' + 'a'.repeat(64),
        mediaType: 'application/vnd.oci.image.index.v1+json',
        entries: [
          {
            kind: 'image' as const,
            descriptor: {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: 'sha256:' + 'b'.repeat(64),
              size: 10,
              platform: { os: 'linux', architecture: 'amd64' },
            },
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      };
      return planMerge([source], { attestations: 'keep', format: 'auto', annotations: annotated.annotations }).digest;
    };
    expect(digest()).toBe(digest());
  });
});

describe('readRunContext', () => {
  it('takes the runner’s variables; outside a run, only the default server and no warning', async () => {
    const { readRunContext } = await import('../../src/action/github-context.js');
    const warn = jest.fn();
    expect(readRunContext({}, warn)).toEqual({ serverUrl: 'https://github.com', repository: undefined, sha: undefined });
    expect(
      readRunContext(
        { GITHUB_SERVER_URL: 'https://ghe.example', GITHUB_REPOSITORY: 'acme/app', GITHUB_SHA: 'abc', GITHUB_EVENT_PATH: '/no/such' },
        warn,
      ),
    ).toEqual({ serverUrl: 'https://ghe.example', repository: 'acme/app', sha: 'abc' });
    expect(warn).not.toHaveBeenCalled();
  });

  it('an event file that is missing, or holds no repository, when it is needed', async () => {
    const { readRunContext } = await import('../../src/action/github-context.js');
    const warn = jest.fn();
    expect(readRunContext({ GITHUB_EVENT_PATH: '/no/such/event.json' }, warn).repository).toBeUndefined();
    expect(warn).toHaveBeenCalledWith('GITHUB_EVENT_PATH: no such file "/no/such/event.json"; org.opencontainers.image.source is left out');
    const file = join(mkdtempSync(join(tmpdir(), 'mm-event-')), 'event.json');
    writeFileSync(file, '{"action": "opened", "repository": {"name": "app"}}');
    warn.mockClear();
    expect(readRunContext({ GITHUB_EVENT_PATH: file }, warn).repository).toBeUndefined();
    expect(warn).not.toHaveBeenCalled();
  });
});
