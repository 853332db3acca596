// The dated price table: validation, choosing the entry in force, cost from normalised usage.
import { describe, expect, it } from "vitest";
import { costUsd, loadPriceTable, parsePriceTable, PriceTableError, UnknownPriceError } from "../../src/models/prices.js";
import { testPrices } from "./provider-fixtures.js";

describe("price table", () => {
  it("picks the newest entry effective at the date of the call", () => {
    const prices = testPrices();

    const before = prices.priceFor("gpt-4.1", new Date("2025-04-13T23:59:59Z"));
    const onTheDay = prices.priceFor("gpt-4.1", new Date("2025-04-14T00:00:00Z"));

    expect(before.input).toBe(4);
    expect(onTheDay.input).toBe(2);
    expect(onTheDay.effective).toBe("2025-04-14");
  });

  it("refuses a model it has no price for, and a date before its first price", () => {
    const prices = testPrices();

    expect(() => prices.priceFor("gpt-9", new Date("2025-09-01"), "openai")).toThrow(UnknownPriceError);
    expect(() => prices.priceFor("gpt-4.1", new Date("2024-12-31"))).toThrow(UnknownPriceError);
  });

  it("distinguishes providers when asked", () => {
    const prices = testPrices();

    expect(() => prices.priceFor("gpt-4.1", new Date("2025-09-01"), "gemini")).toThrow(UnknownPriceError);
  });

  it("prices any ollama model at zero, listed or not", () => {
    const price = testPrices().priceFor("llama3.3:70b", new Date("2025-09-01"), "ollama");

    expect(costUsd({ input: 1_000_000, cachedInput: 5, output: 1_000_000 }, price)).toBe(0);
  });

  it("computes cost per million tokens for each usage bucket", () => {
    const price = testPrices().priceFor("gemini-2.5-flash", new Date("2025-09-01"));

    const cost = costUsd({ input: 2_000_000, cachedInput: 1_000_000, output: 500_000 }, price);

    expect(cost).toBeCloseTo(2 * 0.3 + 1 * 0.075 + 0.5 * 2.5, 12);
  });

  it("rejects unknown keys, negative prices and bad dates with every problem listed", () => {
    const text = `
version: 1
currency: USD
prices:
  - { provider: openai, model: a, effective: "2025-13-01", input: -1, cachedInput: 0, output: 0 }
  - { provider: openai, model: b, effective: "2025-01-01", input: 1, cachedInput: 0, output: 0, discount: 5 }
`;

    let caught: unknown;
    try {
      parsePriceTable(text, "test.yml");
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(PriceTableError);
    const problems = caught instanceof PriceTableError ? caught.problems.join("\n") : "";
    expect(problems).toMatch(/prices\.0\.effective/);
    expect(problems).toMatch(/prices\.0\.input/);
    expect(problems).toMatch(/discount/);
  });

  it("rejects two entries for the same model and date", () => {
    const duplicate = `
version: 1
currency: USD
prices:
  - { provider: openai, model: a, effective: "2025-01-01", input: 1, cachedInput: 0, output: 0 }
  - { provider: openai, model: a, effective: "2025-01-01", input: 2, cachedInput: 0, output: 0 }
`;

    const parse = () => parsePriceTable(duplicate);

    expect(parse).toThrow(/duplicate entry openai\/a@2025-01-01/);
  });

  it("loads the shipped policies/prices.yml and prices its models", () => {
    const prices = loadPriceTable();

    const price = prices.priceFor("gpt-4.1", new Date("2025-09-01"), "openai");

    expect(price.output).toBeGreaterThan(price.input);
    expect(prices.priceFor("gemini-2.5-pro", new Date("2025-09-01"), "gemini").input).toBeGreaterThan(0);
  });
});
