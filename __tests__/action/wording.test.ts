// src/action/wording.ts, the action's words: inputs and docker/login-action, for a workflow log: every advice term has a word here, none of them
// borrowed from the other surface, and errors render in them.
import { afterEach, describe, expect, it } from '@jest/globals';
import { ADVICE_TERMS, type AdviceTerm, InputError, TimeoutError, TIME_BUDGET_HINT } from '../../src/base/errors.js';
import { clearSecrets, registerSecret } from '../../src/base/redact.js';
import { ACTION_EXPLICIT_CREDENTIALS, ACTION_WORDS, renderActionError } from '../../src/action/wording.js';
import { CLI_WORDS } from '../../src/cli/wording.js';

afterEach(() => clearSecrets());

describe('ACTION_WORDS', () => {
  it('words every advice term, and nothing else', () => {
    expect(Object.keys(ACTION_WORDS).sort()).toEqual([...ADVICE_TERMS].sort());
  });

  it.each(ADVICE_TERMS.map((term) => [term]))("words {%s} in its own terms, not in the cli's", (term: AdviceTerm) => {
    const word = ACTION_WORDS[term];
    expect(word.trim()).not.toBe('');
    expect(word).not.toMatch(/[{}]/);
    expect(word).not.toBe(CLI_WORDS[term]);
    // the action's words never speak of flags or the docker CLI
    expect(word).not.toMatch(/--|`docker login`|SOURCE/);
  });
});

describe('renderActionError', () => {
  it.each(ADVICE_TERMS.map((term) => [term]))('fills {%s} in a hint with its word', (term: AdviceTerm) => {
    const error = new InputError('Bad value', { hint: `Fix {${term}} and retry` });
    expect(renderActionError(error)).toBe(`Bad value. Fix ${ACTION_WORDS[term]} and retry`);
  });

  it.each<[string, unknown, string]>([
    ['an error without a hint: its summary alone', new InputError('Input is wrong'), 'Input is wrong'],
    [
      'a placeholder starting a later sentence is capitalised',
      new InputError('Denied', { hint: 'Checked. {rerun}' }),
      `Denied. Checked. ${ACTION_WORDS.rerun.charAt(0).toUpperCase()}${ACTION_WORDS.rerun.slice(1)}`,
    ],
    ['an unknown placeholder is left as written', new InputError('Odd', { hint: 'see {nothing}' }), 'Odd. See {nothing}'],
    ['an error not of ours: its message', new TypeError('x is not a function'), 'x is not a function'],
    ['something thrown that is not an Error', 'a string', 'a string'],
  ])('%s', (_name, error, text) => {
    expect(renderActionError(error)).toBe(text);
  });

  it('words the time budget hint of a timeout', () => {
    const text = renderActionError(new TimeoutError('GET https://ghcr.io/v2/ timed out', { hint: TIME_BUDGET_HINT }));
    expect(text).toContain(`(${ACTION_WORDS.timeout}; default 10m)`);
  });

  it('redacts registered secrets and credentials from what it renders', () => {
    registerSecret('hunter2-secret');
    const text = renderActionError(
      new InputError('token service said hunter2-secret', { hint: 'GET https://ci:pw@ghcr.io failed; {rerun}' }),
    );
    expect(text).not.toContain('hunter2-secret');
    expect(text).not.toContain('ci:pw');
    expect(text).toContain('***');
  });
});

describe('ACTION_EXPLICIT_CREDENTIALS', () => {
  it('names the credentials given to this surface in its own terms', () => {
    expect(ACTION_EXPLICIT_CREDENTIALS).not.toBe('');
    expect(ACTION_WORDS.credentials).not.toBe('');
    expect(ACTION_EXPLICIT_CREDENTIALS).toMatch(/^inputs? /);
    expect(ACTION_EXPLICIT_CREDENTIALS).not.toContain('--');
  });
});
