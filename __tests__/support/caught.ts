// The error a promise rejects with, for tests that look at it closely (type, message, facts).

/** What `promise` rejects with; the test fails if it resolves. */
export async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** What `work` throws; the test fails if it returns. */
export function thrown(work: () => unknown): Error {
  try {
    work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
