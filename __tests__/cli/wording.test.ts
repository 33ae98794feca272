// src/cli/wording.ts, the CLI's words: flags and `docker login`, for a terminal: every advice term has a word here, none of them
// borrowed from the other surface, and errors render in them.
import { afterEach, describe, expect, it } from '@jest/globals';
import { ADVICE_TERMS, type AdviceTerm, InputError, TimeoutError, TIME_BUDGET_HINT } from '../../src/base/errors.js';
import { clearSecrets, registerSecret } from '../../src/base/redact.js';
import { CLI_EXPLICIT_CREDENTIALS, CLI_WORDS, renderCliError } from '../../src/cli/wording.js';
import { ACTION_WORDS } from '../../src/action/wording.js';

afterEach(() => clearSecrets());

describe('CLI_WORDS', () => {
  it('words every advice term, and nothing else', () => {
    expect(Object.keys(CLI_WORDS).sort()).toEqual([...ADVICE_TERMS].sort());
  });

  it.each(ADVICE_TERMS.map((term) => [term]))("words {%s} in its own terms, not in the action's", (term: AdviceTerm) => {
    const word = CLI_WORDS[term];
    expect(word.trim()).not.toBe('');
    expect(word).not.toMatch(/[{}]/);
    expect(word).not.toBe(ACTION_WORDS[term]);
    // the CLI's words never speak of inputs or workflow actions
    expect(word).not.toMatch(/input `|\binputs?\b|login-action|re-run the job/);
  });
});

describe('renderCliError', () => {
  it.each(ADVICE_TERMS.map((term) => [term]))('fills {%s} in a hint with its word', (term: AdviceTerm) => {
    const error = new InputError('Bad value', { hint: `Fix {${term}} and retry` });
    expect(renderCliError(error)).toBe(`Bad value. Fix ${CLI_WORDS[term]} and retry`);
  });

  it.each<[string, unknown, string]>([
    ['an error without a hint: its summary alone', new InputError('Input is wrong'), 'Input is wrong'],
    [
      'a placeholder starting a later sentence is capitalised',
      new InputError('Denied', { hint: 'Checked. {rerun}' }),
      `Denied. Checked. ${CLI_WORDS.rerun.charAt(0).toUpperCase()}${CLI_WORDS.rerun.slice(1)}`,
    ],
    ['an unknown placeholder is left as written', new InputError('Odd', { hint: 'see {nothing}' }), 'Odd. See {nothing}'],
    ['an error not of ours: its message', new TypeError('x is not a function'), 'x is not a function'],
    ['something thrown that is not an Error', 'a string', 'a string'],
  ])('%s', (_name, error, text) => {
    expect(renderCliError(error)).toBe(text);
  });

  it('words the time budget hint of a timeout', () => {
    const text = renderCliError(new TimeoutError('GET https://ghcr.io/v2/ timed out', { hint: TIME_BUDGET_HINT }));
    expect(text).toContain(`(${CLI_WORDS.timeout}; default 10m)`);
  });

  it('redacts registered secrets and credentials from what it renders', () => {
    registerSecret('hunter2-secret');
    const text = renderCliError(new InputError('token service said hunter2-secret', { hint: 'GET https://ci:pw@ghcr.io failed; {rerun}' }));
    expect(text).not.toContain('hunter2-secret');
    expect(text).not.toContain('ci:pw');
    expect(text).toContain('***');
  });
});

describe('CLI_EXPLICIT_CREDENTIALS', () => {
  it('names the credentials given to this surface in its own terms', () => {
    expect(CLI_EXPLICIT_CREDENTIALS).not.toBe('');
    expect(CLI_WORDS.credentials).not.toBe('');
    expect(CLI_EXPLICIT_CREDENTIALS).toMatch(/^--username\/--password-stdin$/);
    expect(CLI_EXPLICIT_CREDENTIALS).not.toMatch(/input/);
  });
});
