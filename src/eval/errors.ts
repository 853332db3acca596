// Expected failures of `aura eval`: input it cannot use. Each carries the one message a person needs to act,
// and is raised before anything is run or written.

export class EvalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EvalInputError";
  }
}

/**
 * Runs one step of a command: its value, or undefined after `say` has told the person an EvalInputError's message
 * (the command then exits 2). Any other error propagates.
 */
export async function orInputError<T>(step: () => T | Promise<T>, say: (message: string) => void): Promise<{ value: T } | undefined> {
  try {
    return { value: await step() };
  } catch (error) {
    if (!(error instanceof EvalInputError)) throw error;
    say(error.message);
    return undefined;
  }
}
