// @actions/core as jest mocks, for unit tests of the action's entry (actions/typescript-action's
// __fixtures__/core.ts is the model): `jest.unstable_mockModule('@actions/core', () => core)`,
// then import the module under test. `inputs` holds what getInput returns; `outputs` collects
// setOutput calls; `summaries` what the job summary was given.
import { jest } from '@jest/globals';

export const inputs: Record<string, string> = {};
export const outputs: Record<string, string> = {};
export const summaries: string[] = [];

export const debug = jest.fn<(message: string) => void>();
export const info = jest.fn<(message: string) => void>();
export const warning = jest.fn<(message: string) => void>();
export const error = jest.fn<(message: string) => void>();
export const setSecret = jest.fn<(secret: string) => void>();
export const setFailed = jest.fn<(message: string) => void>();
export const getInput = jest.fn((name: string) => inputs[name] ?? '');
export const setOutput = jest.fn((name: string, value: string) => {
  outputs[name] = value;
});
export const group = jest.fn(<T>(_name: string, work: () => Promise<T>) => work());
export const summary = {
  addRaw: jest.fn((text: string) => {
    summaries.push(text);
    return summary;
  }),
  write: jest.fn(async () => summary),
};

/** Clears the calls and the recorded inputs, outputs and summaries between tests. */
export function resetCore(values: Record<string, string> = {}): void {
  for (const record of [inputs, outputs]) for (const key of Object.keys(record)) delete record[key];
  Object.assign(inputs, values);
  summaries.length = 0;
  for (const mock of [debug, info, warning, error, setSecret, setFailed, getInput, setOutput, group, summary.addRaw, summary.write])
    mock.mockClear();
}
