// Every test runs with real network connections disabled: an HTTP request nobody mocked fails the test.
// Loopback stays open for the servers and databases the tests start themselves. After each test, an
// interceptor that was set up but never called fails the test too (persisted or optional ones excepted).
// After each file, the no-merge guard must never have fired: no code path merges or approves.
import nock from "nock";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { guardRefusals } from "../../src/github/guard.js";
import { loopbackHost } from "./loopback.js";

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect(loopbackHost);
});

afterEach(() => {
  const pending = nock.pendingMocks();
  if (pending.length > 0) {
    nock.cleanAll();
    throw new Error(`HTTP mocks were set up but never called: ${pending.join(", ")}`);
  }
});

afterAll(() => {
  nock.cleanAll();
  expect(guardRefusals(), "the no-merge guard refused a call: some code path tried to merge or approve").toEqual([]);
});
