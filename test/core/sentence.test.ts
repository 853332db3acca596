// A reason a person wrote, closed as a sentence in a message the app posts (src/core/sentence.ts).
import { describe, expect, it } from "vitest";
import { sentence } from "../../src/core/sentence.js";

describe("sentence", () => {
  it("adds a full stop to a reason without one, and keeps a reason's own closing mark", () => {
    expect(sentence("flaky tests")).toBe("flaky tests.");
    expect(sentence("flaky tests.")).toBe("flaky tests.");
    expect(sentence("  why not?  ")).toBe("why not?");
    expect(sentence("stop now!")).toBe("stop now!");
    expect(sentence("and so on…")).toBe("and so on…");
    expect(sentence("see `a.b`")).toBe("see `a.b`.");
  });
});
