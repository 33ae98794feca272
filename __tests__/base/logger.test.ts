// Loggers (src/base/logger.ts): the interface the engine logs through, the memory logger tests
// search, the silent one, and phases run under a group when the logger has groups.
import { describe, expect, it, jest } from '@jest/globals';
import { type Logger, createMemoryLogger, inGroup, silentLogger } from '../../src/base/logger.js';

describe('inGroup', () => {
  it('runs the work inside the logger’s group when it has one, as a plain call otherwise', async () => {
    const logger = createMemoryLogger();
    await expect(inGroup(logger, 'Transfer', async () => 'done')).resolves.toBe('done');
    expect(logger.lines).toEqual(['group: Transfer']);
    await expect(
      inGroup({ debug: () => undefined, info: () => undefined, warning: () => undefined }, 'Transfer', async () => 'plain'),
    ).resolves.toBe('plain');
  });
});

describe('inGroup: the work and its outcome pass through', () => {
  const plain: Logger = { debug: () => undefined, info: () => undefined, warning: () => undefined };

  it.each<[string, Logger]>([
    ['a logger with groups', createMemoryLogger()],
    ['a logger without groups', plain],
  ])('with %s, a failing phase rejects with the error of its work', async (_name, logger) => {
    const failure = new Error('push failed');
    await expect(inGroup(logger, 'Push', async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('calls the group with the name and the very work given, once', async () => {
    const calls: Array<[string, unknown]> = [];
    const logger: Logger = {
      ...plain,
      group: (name, work) => {
        calls.push([name, work]);
        return work();
      },
    };
    const work = async () => 7;
    await expect(inGroup(logger, 'Resolve and plan', work)).resolves.toBe(7);
    expect(calls).toEqual([['Resolve and plan', work]]);
  });
});

describe('createMemoryLogger', () => {
  it.each<[string, (logger: Logger) => void, string]>([
    ['debug', (l) => l.debug('GET https://ghcr.io/v2/'), 'debug: GET https://ghcr.io/v2/'],
    ['info', (l) => l.info('Pushed ghcr.io/acme/app:1'), 'info: Pushed ghcr.io/acme/app:1'],
    ['warning', (l) => l.warning('referrers: skip'), 'warning: referrers: skip'],
    ['an empty line', (l) => l.info(''), 'info: '],
  ])('records %s with its level', (_name, log, line) => {
    const logger = createMemoryLogger();
    log(logger);
    expect(logger.lines).toEqual([line]);
  });

  it('keeps lines in the order they were logged, groups included', async () => {
    const logger = createMemoryLogger();
    logger.info('start');
    await inGroup(logger, 'Transfer', async () => logger.debug('inside'));
    logger.warning('end');
    expect(logger.lines).toEqual(['info: start', 'group: Transfer', 'debug: inside', 'warning: end']);
  });

  it('gives each logger its own lines', () => {
    const [a, b] = [createMemoryLogger(), createMemoryLogger()];
    a.info('only in a');
    expect(b.lines).toEqual([]);
  });
});

describe('silentLogger', () => {
  it('accepts every level, has no groups, and writes nothing', () => {
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      silentLogger.debug('d');
      silentLogger.info('i');
      silentLogger.warning('w');
      expect(stdout).not.toHaveBeenCalled();
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(silentLogger.group).toBeUndefined();
  });
});
