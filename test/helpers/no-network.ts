// Every test runs with real network connections disabled: an HTTP request nobody mocked fails the test.
// Loopback stays open for the servers and databases the tests start themselves.
import nock from "nock";
import { afterEach, beforeAll } from "vitest";

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
});

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  if (pending.length > 0) throw new Error(`HTTP mocks were set up but never called: ${pending.join(", ")}`);
});
