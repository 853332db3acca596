// Expected failures of `aura eval`: input it cannot use. Each carries the one message a person needs to act,
// and is raised before anything is run or written.

export class EvalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EvalInputError";
  }
}
