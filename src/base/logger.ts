// The engine and registry client log through this interface, so the action can
// route it to @actions/core, the CLI to stderr, and tests to an array.
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  /**
   * Runs one phase of the work (resolve and plan, transfer, push and verify) under a heading:
   * the action folds its log lines into a `core.group`; other loggers just run it.
   */
  group?<T>(name: string, work: () => Promise<T>): Promise<T>;
}

/** Runs `work` as the phase `name` of `logger` (a plain call for loggers without groups). */
export function inGroup<T>(logger: Logger, name: string, work: () => Promise<T>): Promise<T> {
  return logger.group ? logger.group(name, work) : work();
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warning: () => undefined,
};

/** A logger that records every line; used by tests (e.g. to search logs for secrets). Groups are recorded as `group: NAME`. */
export function createMemoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug: ${m}`),
    info: (m) => lines.push(`info: ${m}`),
    warning: (m) => lines.push(`warning: ${m}`),
    group: (name, work) => {
      lines.push(`group: ${name}`);
      return work();
    },
  };
}
