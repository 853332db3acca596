// The budget tests' set-up: a database with one task to spend on (the spend subject), caps far above the calls
// (so a test is about one call's own reservation, not the caps), and a gpt-4o client priced by a one-line table.
import { afterAll, beforeAll } from "vitest";
import type { EffectiveBudgets } from "../../src/config/repo-config.js";
import type { SpendSubject } from "../../src/models/budgets.js";
import { parsePriceTable } from "../../src/models/prices.js";
import { createModelClient } from "../../src/models/providers/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { setUp } from "../helpers/harness.js";
import { insertRequirement } from "../helpers/services.js";
import { TEST_NOW } from "./provider-fixtures.js";

const GPT_4O_PRICES = parsePriceTable(`
version: 1
currency: USD
prices:
  - { provider: openai, model: gpt-4o, effective: "2024-10-01", input: 2.50, cachedInput: 1.25, output: 10.00 }
`);

/** gpt-4o's price at TEST_NOW. */
export const GPT_4O_PRICE = GPT_4O_PRICES.priceFor("gpt-4o", TEST_NOW, "openai");

/** A gpt-4o employee through the real OpenAI SDK (HTTP faked by nock), at TEST_NOW's prices. */
export const gpt4oClient = () =>
  createModelClient({ id: "gpt-4o", provider: "openai", model: "gpt-4o" }, { OPENAI_API_KEY: "sk-test" }, { prices: GPT_4O_PRICES, now: () => TEST_NOW });

/** Caps far above the tests' calls. */
export const ROOMY_BUDGETS: EffectiveBudgets = {
  warnAtFraction: 0.8,
  perTask: { tokens: 100_000_000, usd: 1_000 },
  perRequirement: { tokens: 100_000_000, usd: 1_000 },
  perDayPerInstallation: { tokens: 100_000_000, usd: 1_000 },
  perDayPerRepo: { tokens: 100_000_000, usd: 1_000 },
};

/**
 * A fresh database for the test file with one requirement whose one task (`taskKey`) the employee spends on;
 * `subject` names that spend on day 2100-01-01. Read in hooks and tests only.
 */
export function useSpendSubject(input: { taskKey: string; employeeId: string }): { readonly db: TestDatabase; readonly subject: SpendSubject } {
  let db: TestDatabase | undefined;
  let subject: SpendSubject | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    const { requirementId, taskIds } = await insertRequirement(db, { tasks: [{ key: input.taskKey }] });
    subject = {
      installationId: 1,
      repo: "octo-org/widgets",
      requirementId,
      taskId: taskIds[input.taskKey] ?? 0,
      employeeId: input.employeeId,
      day: "2100-01-01",
    };
  });
  afterAll(async () => {
    await db?.drop();
  });
  const unset = "useSpendSubject sets up in beforeAll: read it in a hook or a test";
  return {
    get db(): TestDatabase {
      return setUp(db, unset);
    },
    get subject(): SpendSubject {
      return setUp(subject, unset);
    },
  };
}
