// The CLI's flags: the same fields as the action's inputs under the CLI's names, through the same
// builder, every error naming the flag.
import { describe, expect, it } from '@jest/globals';
import { InputError, UsageError, isUsageOrInput } from '../../src/base/errors.js';
import { parseInspectCommand, parseMergeCommand } from '../../src/cli/flags.js';
import { getInputs } from '../../src/action/inputs.js';
import { thrown } from '../support/caught.js';
import { BASE_INPUTS as base, getter } from '../support/inputs.js';
const noPassword = () => {
  throw new Error('the password was read without --password-stdin');
};

describe('parseMergeCommand / parseInspectCommand (the CLI)', () => {
  it('reads flags into the same request and settings as the action’s inputs', () => {
    const command = parseMergeCommand(
      [
        '-t',
        'ghcr.io/acme/app:latest',
        '--platforms',
        'linux/amd64,linux/arm64',
        '--attestations',
        'strip',
        '--format',
        'oci',
        '--dry-run',
        '--append',
        '--annotation',
        'index:a=b',
        '--timeout',
        '90s',
        '--insecure-registry',
        'reg.lan',
        '-q',
        'ghcr.io/acme/app:amd64',
        'ghcr.io/acme/app:arm64',
      ],
      noPassword,
    );
    const action = getInputs(
      getter({
        ...base,
        platforms: 'linux/amd64,linux/arm64',
        attestations: 'strip',
        format: 'oci',
        push: 'false',
        append: 'true',
        annotations: 'index:a=b',
        timeout: '90s',
        'insecure-registries': 'reg.lan',
      }),
    );
    expect(command.help).toBe(false);
    if (command.help) return;
    expect(command.images[0].request).toEqual(action.images[0].request);
    expect(command.client).toEqual(action.client);
    expect(command.output).toEqual({ json: false, quiet: true, verbose: false });
  });

  it('reads the password from standard input only with --password-stdin, for --registry or the first tag’s', () => {
    const merge = parseMergeCommand(['--username', 'ci', '--password-stdin', '-t', 'ghcr.io/acme/app:1', 'ghcr.io/acme/app:a'], () => 'pw');
    expect(!merge.help && merge.client.credentials).toEqual({ registry: 'ghcr.io', username: 'ci', password: 'pw' });
    const inspect = parseInspectCommand(
      ['--username', 'ci', '--password-stdin', '--registry', 'quay.io', 'ghcr.io/acme/app:a'],
      () => 'pw',
    );
    expect(!inspect.help && inspect.client.credentials).toEqual({ registry: 'quay.io', username: 'ci', password: 'pw' });
  });

  it('inspect needs no tag: its settings come from REF alone', () => {
    const inspect = parseInspectCommand(['--username', 'ci', '--password-stdin', 'localhost:5000/acme/app:a'], () => 'pw');
    expect(inspect.help).toBe(false);
    if (inspect.help) return;
    expect(inspect.reference).toEqual({ registry: 'localhost:5000', repository: 'acme/app', tag: 'a' });
    expect(inspect.client.credentials?.registry).toBe('localhost:5000');
  });

  it.each([
    [['merge-less'], UsageError, /merge needs at least one --tag/],
    [['-t', 'x/y:z', '--timeout', '0', 'a/b:c'], InputError, /^--timeout is "0", which leaves no time at all/],
    [['-t', 'x/y:z', '--timeout', '0s', 'a/b:c'], InputError, /^--timeout is "0s", which leaves no time at all/],
    [['-t', 'x/y:z', '--timeout', '99999999h', 'a/b:c'], InputError, /^--timeout is "99999999h", over the limit of 24h/],
    [['-t', 'x/y:z', '--format', 'v1', 'a/b:c'], InputError, /^--format is "v1". Use one of: auto, oci, docker$/],
    [['-t', 'x/y:z', '--annotation', 'novalue', 'a/b:c'], InputError, /^--annotation: "novalue" is not key=value/],
    [['-t', 'x/y@sha256:' + 'a'.repeat(64), 'a/b:c'], InputError, /^--tag: "x\/y@sha256:a+" is a digest reference/],
    [['-t', 'x/y:z', 'A/b:c'], InputError, /^SOURCE: Invalid image reference "A\/b:c"/],
    [['-t', 'x/y:z', '--password-stdin', 'a/b:c'], UsageError, /--password-stdin needs --username/],
  ])('refuses %j as the user’s own mistake (exit 2)', (args, kind, message) => {
    const error = thrown(() => parseMergeCommand(args, () => 'pw'));
    expect(error).toBeInstanceOf(kind);
    expect(isUsageOrInput(error)).toBe(true);
    expect(error.message).toMatch(message);
  });
});
