// The dated model price table (policies/prices.yml) and the cost of a call from its normalised usage.
// Prices change over time, so each entry carries the date it took effect and a lookup names the moment of
// the call; an unknown model is an error, never a silent zero, so that spend can always be accounted for.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { ProviderName, Usage } from "./model-client.js";

const perMillion = z.number().nonnegative().finite();

export const PriceEntry = z
  .object({
    provider: z.enum(["openai", "gemini", "ollama"]),
    model: z.string().min(1),
    /** The UTC date from which this price applies. */
    effective: z.iso.date(),
    /** USD per million uncached input tokens. */
    input: perMillion,
    /** USD per million input tokens served from the provider's prompt cache. */
    cachedInput: perMillion,
    /** USD per million output tokens (including reasoning/thinking tokens). */
    output: perMillion,
  })
  .strict();
export type PriceEntry = z.infer<typeof PriceEntry>;

export const PriceTableFile = z
  .object({
    version: z.literal(1),
    currency: z.literal("USD"),
    prices: z.array(PriceEntry).min(1),
  })
  .strict();
export type PriceTableFile = z.infer<typeof PriceTableFile>;

/** The price in force for one model at one moment. */
export type Price = {
  provider: ProviderName;
  model: string;
  effective: string;
  input: number;
  cachedInput: number;
  output: number;
};

/** The price file is missing, not YAML, or breaks the schema; the message names the problems. */
export class PriceTableError extends Error {
  override name = "PriceTableError";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Price table ${source} is invalid: ${problems.join("; ")}. Fix policies/prices.yml.`);
  }
}

/** No price is known for a model at a date; the model cannot be used until one is added. */
export class UnknownPriceError extends Error {
  override name = "UnknownPriceError";
  constructor(
    readonly model: string,
    readonly at: Date,
    readonly provider: ProviderName | undefined,
  ) {
    super(
      `No price for model "${model}"${provider ? ` (${provider})` : ""} effective on ${at.toISOString().slice(0, 10)}. ` +
        "Add a dated entry to policies/prices.yml (ollama models are free and need none).",
    );
  }
}

function effectiveTime(entry: PriceEntry): number {
  return Date.parse(`${entry.effective}T00:00:00Z`);
}

export class PriceTable {
  readonly entries: readonly PriceEntry[];

  constructor(entries: readonly PriceEntry[]) {
    // Newest first, so the first entry not after the date wins.
    this.entries = [...entries].sort((a, b) => effectiveTime(b) - effectiveTime(a));
  }

  /**
   * The newest price for `model` effective at `at`. Give `provider` when the same model name is served by
   * more than one provider (an OpenAI-compatible gateway, say). Ollama models without an entry cost 0.
   */
  priceFor(model: string, at: Date, provider?: ProviderName): Price {
    const time = at.getTime();
    const match = this.entries.find(
      (entry) => entry.model === model && (provider === undefined || entry.provider === provider) && effectiveTime(entry) <= time,
    );
    if (match) return { ...match };
    if (provider === "ollama") {
      return { provider, model, effective: "1970-01-01", input: 0, cachedInput: 0, output: 0 };
    }
    throw new UnknownPriceError(model, at, provider);
  }
}

/** US dollars for a call's usage at a price. */
export function costUsd(usage: Usage, price: Price): number {
  return (usage.input * price.input + usage.cachedInput * price.cachedInput + usage.output * price.output) / 1e6;
}

/** Parses and validates price-table YAML. Throws PriceTableError listing every problem. */
export function parsePriceTable(text: string, source = "policies/prices.yml"): PriceTable {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new PriceTableError(source, [error instanceof Error ? error.message : String(error)]);
  }
  const result = PriceTableFile.safeParse(raw);
  if (!result.success) {
    throw new PriceTableError(
      source,
      result.error.issues.map((issue) => `${issue.path.join(".") || "<root>"}: ${issue.message}`),
    );
  }
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const entry of result.data.prices) {
    const key = `${entry.provider}/${entry.model}@${entry.effective}`;
    if (seen.has(key)) duplicates.push(`duplicate entry ${key}`);
    seen.add(key);
  }
  if (duplicates.length > 0) throw new PriceTableError(source, duplicates);
  return new PriceTable(result.data.prices);
}

/** Where policies/prices.yml lives, found upward from this module (works from src/ and from dist/src/). */
export function defaultPriceTablePath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    const candidate = path.join(dir, "policies", "prices.yml");
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve("policies", "prices.yml");
}

/** Reads and validates the price table file. */
export function loadPriceTable(file = defaultPriceTablePath()): PriceTable {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new PriceTableError(file, [`cannot be read (${error instanceof Error ? error.message : String(error)})`]);
  }
  return parsePriceTable(text, file);
}

let defaultTable: PriceTable | undefined;

/**
 * The price in force for a model at `at` from the default price table (read once), or undefined when the
 * model is not priced: the provider client refuses an unpriced model before any call, and tokens still bound
 * a budget reservation.
 */
export function defaultPriceFor(model: { provider: ProviderName; model: string }, at: Date): Price | undefined {
  defaultTable ??= loadPriceTable();
  try {
    return defaultTable.priceFor(model.model, at, model.provider);
  } catch {
    return undefined;
  }
}
