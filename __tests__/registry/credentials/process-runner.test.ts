// The process runner: stdin in, stdout, stderr and exit code out; over its time the whole
// process group is killed, as a timeout.
import { describe, expect, it } from '@jest/globals';
import { TimeoutError } from '../../../src/base/errors.js';
import { caught } from '../../support/caught.js';
import { childProcessRunner } from '../../../src/registry/credentials/process-runner.js';

describe('childProcessRunner', () => {
  it('passes stdin and collects stdout, stderr and the exit code', async () => {
    await expect(childProcessRunner.run('sh', ['-c', 'read -r x; echo "out:$x"; echo err >&2; exit 4'], 'hello\n')).resolves.toEqual({
      exitCode: 4,
      stdout: 'out:hello\n',
      stderr: 'err\n',
    });
  });

  it('kills a command over its time limit with its process group, as a timeout', async () => {
    const started = Date.now();
    const error = await caught(childProcessRunner.run('sh', ['-c', 'sleep 30 & wait'], '', { timeoutMs: 200 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).summary).toBe('sh timed out: no answer within 200 ms');
  });

  it('rejects when the command does not exist', async () => {
    await expect(childProcessRunner.run('manifest-merge-no-such-command', [], '')).rejects.toThrow(/ENOENT/);
  });
});
