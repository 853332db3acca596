// Converts a zod 4 message schema into the structured-output formats the providers accept: a strict JSON
// schema (OpenAI `json_schema` strict mode, Ollama `format`) and Gemini's OpenAPI-subset response schema.
// We walk the zod definition ourselves so that we decide exactly which keywords reach a provider, and we map
// the provider's strict reply (where "absent" had to be spelled `null`) back to what the zod schema expects.
import { SchemaType } from "@google/generative-ai";
import { z } from "zod";

export type JsonSchemaType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "null";
export type JsonLiteral = string | number | boolean | null;

/** The strict JSON-schema subset that OpenAI strict mode, Ollama and llama.cpp grammars all accept. */
export type JsonSchema = {
  type?: JsonSchemaType | JsonSchemaType[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: false;
  items?: JsonSchema;
  enum?: JsonLiteral[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minItems?: number;
  maxItems?: number;
};

/**
 * Gemini's response schema: an OpenAPI 3.0 subset with `nullable` instead of null types and no
 * `additionalProperties`. `anyOf` is accepted by the Gemini API although the 0.24 SDK types omit it.
 */
export type GeminiSchema = {
  type?: SchemaType;
  format?: "enum" | "int32" | "int64" | "float" | "double" | "date-time";
  description?: string;
  nullable?: boolean;
  enum?: string[];
  properties?: Record<string, GeminiSchema>;
  required?: string[];
  items?: GeminiSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: GeminiSchema[];
};

/** A zod construct that cannot be expressed for a provider; a programming error in a message schema. */
export class UnsupportedSchemaError extends Error {
  override name = "UnsupportedSchemaError";
  constructor(
    readonly path: string,
    readonly construct: string,
    readonly target: "strict-json-schema" | "gemini",
  ) {
    super(
      `Cannot convert ${construct} at ${path || "<root>"} to a ${target} schema. ` +
        "Message schemas may use objects, strings, numbers, booleans, enums, literals, arrays, optional, nullable, " +
        "default and unions; replace records, tuples, lazy or any/unknown with one of those.",
    );
  }
}

type Check = { check: string } & Record<string, unknown>;

/** The check definitions zod attached to a schema (`.min()`, `.int()`, `.regex()` …). */
function checksOf(schema: z.ZodType): Check[] {
  const def = schema._zod.def;
  // String formats (`z.email()`) and number formats (`z.int()`) carry their check on the schema itself.
  const own: Check[] = "check" in def && typeof def.check === "string" ? [{ ...def, check: def.check }] : [];
  return [...own, ...(def.checks ?? []).map((check) => ({ ...check._zod.def }))];
}

function numberOf(check: Check, key: string): number | undefined {
  const value = check[key];
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

/** Strips wrappers that do not change the JSON a model must produce (readonly, catch, pipes to transforms). */
function unwrapTransparent(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodReadonly || current instanceof z.ZodCatch || current instanceof z.ZodPrefault) {
      current = current._zod.def.innerType as z.ZodType;
      continue;
    }
    // The model writes the pipe's input; zod then runs the transform or the second schema.
    if (current instanceof z.ZodPipe) {
      current = current._zod.def.in as z.ZodType;
      continue;
    }
    return current;
  }
}

/** Whether a value may be left out of an object: `.optional()` or `.default()`. */
function isOptional(schema: z.ZodType): boolean {
  const inner = unwrapTransparent(schema);
  return inner instanceof z.ZodOptional || inner instanceof z.ZodDefault;
}

/** The schema a present value must satisfy, with optional/default stripped. */
function presentSchema(schema: z.ZodType): z.ZodType {
  let current = unwrapTransparent(schema);
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault) {
    current = unwrapTransparent(current._zod.def.innerType as z.ZodType);
  }
  return current;
}

/** Whether `null` is an accepted value of the schema itself (not just of an optional wrapper). */
function acceptsNull(schema: z.ZodType): boolean {
  const inner = presentSchema(schema);
  if (inner instanceof z.ZodNullable || inner instanceof z.ZodNull) return true;
  if (inner instanceof z.ZodUnion) return (inner._zod.def.options as z.ZodType[]).some(acceptsNull);
  return false;
}

function descriptionOf(...schemas: z.ZodType[]): string | undefined {
  for (const schema of schemas) {
    if (schema.description) return schema.description;
  }
  return undefined;
}

/** Constraints zod enforces that strict mode cannot express; told to the model in words instead. */
function stringHints(schema: z.ZodType): string[] {
  const hints: string[] = [];
  for (const check of checksOf(schema)) {
    if (check.check === "min_length") hints.push(`at least ${characters(numberOf(check, "minimum"))}`);
    if (check.check === "max_length") hints.push(`at most ${characters(numberOf(check, "maximum"))}`);
    if (check.check === "length_equals") hints.push(`exactly ${characters(numberOf(check, "length"))}`);
    if (check.check === "string_format") {
      const format = check.format;
      if (format === "regex" && check.pattern instanceof RegExp) hints.push(`matching /${check.pattern.source}/`);
      else if (typeof format === "string") hints.push(`format ${format}`);
    }
  }
  return hints;
}

function characters(count: number | undefined): string {
  return count === 1 ? "1 character" : `${count} characters`;
}

function withHints(description: string | undefined, hints: string[]): string | undefined {
  if (hints.length === 0) return description;
  const text = `(${hints.join("; ")})`;
  return description ? `${description} ${text}` : text;
}

type Literalish = { values: JsonLiteral[] };

/** Enum and literal values, or undefined when the schema is something else. */
function literalValues(schema: z.ZodType): Literalish | undefined {
  const inner = presentSchema(schema);
  if (inner instanceof z.ZodEnum) return { values: (inner.options as (string | number)[]).slice() };
  if (inner instanceof z.ZodLiteral) {
    const values: JsonLiteral[] = [];
    for (const value of inner._zod.def.values) {
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean" || value === null) {
        values.push(value);
      } else {
        return undefined;
      }
    }
    return { values };
  }
  return undefined;
}

function literalType(values: JsonLiteral[]): JsonSchemaType | undefined {
  const types = new Set(values.filter((v) => v !== null).map((v) => typeof v));
  if (types.size !== 1) return undefined;
  const [only] = [...types];
  if (only === "string") return "string";
  if (only === "boolean") return "boolean";
  if (only === "number") return values.every((v) => v === null || Number.isInteger(v)) ? "integer" : "number";
  return undefined;
}

/** Makes a strict schema also accept `null`. */
function nullableStrict(schema: JsonSchema): JsonSchema {
  if (schema.anyOf) {
    if (schema.anyOf.some((option) => option.type === "null")) return schema;
    return { ...schema, anyOf: [...schema.anyOf, { type: "null" }] };
  }
  if (schema.type === undefined || schema.type === "object" || schema.type === "array") {
    const { description, ...rest } = schema;
    return { ...(description ? { description } : {}), anyOf: [rest, { type: "null" }] };
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const next: JsonSchema = { ...schema, type: types.includes("null") ? types : [...types, "null"] };
  if (schema.enum && !schema.enum.includes(null)) next.enum = [...schema.enum, null];
  return next;
}

function strictNode(schema: z.ZodType, path: string): JsonSchema {
  const outer = schema;
  // Optional and default both mean "may be absent"; strict mode has no absence, so they become nullable
  // and `fromStrictJson` turns the model's null back into an absent key.
  if (isOptional(outer)) {
    return mergeDescription(descriptionOf(outer, unwrapTransparent(outer)), nullableStrict(strictNode(presentSchema(outer), path)));
  }
  const inner = unwrapTransparent(outer);
  const description = descriptionOf(outer, inner);
  const described = (node: JsonSchema): JsonSchema => (description ? { description, ...node } : node);

  if (inner instanceof z.ZodNullable) {
    return mergeDescription(description, nullableStrict(strictNode(inner._zod.def.innerType as z.ZodType, path)));
  }
  if (inner instanceof z.ZodNull) return described({ type: "null" });
  if (inner._zod.def.type === "string") {
    return { ...withDescription(withHints(description, stringHints(inner))), type: "string" };
  }
  if (inner._zod.def.type === "number") return described(numberNode(inner));
  if (inner._zod.def.type === "boolean") return described({ type: "boolean" });

  const literals = literalValues(inner);
  if (literals) {
    const type = literalType(literals.values);
    if (!type) throw new UnsupportedSchemaError(path, "a mixed-type enum", "strict-json-schema");
    return described({ type, enum: literals.values });
  }
  if (inner instanceof z.ZodArray) {
    const node: JsonSchema = { type: "array", items: strictNode(inner._zod.def.element as z.ZodType, `${path}[]`) };
    for (const check of checksOf(inner)) {
      if (check.check === "min_length") node.minItems = numberOf(check, "minimum");
      if (check.check === "max_length") node.maxItems = numberOf(check, "maximum");
      if (check.check === "length_equals") node.minItems = node.maxItems = numberOf(check, "length");
    }
    return described(node);
  }
  if (inner instanceof z.ZodObject) return described(objectNode(inner, path));
  if (inner instanceof z.ZodUnion) return described(unionNode(inner, path));
  throw new UnsupportedSchemaError(path, `z.${inner._zod.def.type}()`, "strict-json-schema");
}

/** A wrapper's description (`.optional().describe(…)`) joined with what the wrapped node already says. */
function mergeDescription(description: string | undefined, node: JsonSchema): JsonSchema {
  if (!description) return node;
  if (!node.description) return { description, ...node };
  if (node.description.includes(description)) return node;
  return { ...node, description: `${description} ${node.description}` };
}

function withDescription(description: string | undefined): JsonSchema {
  return description ? { description } : {};
}

function numberNode(schema: z.ZodType): JsonSchema {
  const node: JsonSchema = { type: "number" };
  for (const check of checksOf(schema)) {
    if (check.check === "number_format") {
      const format = check.format;
      if (format === "safeint" || format === "int32" || format === "uint32") node.type = "integer";
      // The safe-integer bounds zod adds for `.int()` tell a model nothing; keep only real bounds.
      if (format === "int32" || format === "uint32") {
        node.minimum ??= format === "uint32" ? 0 : -2147483648;
        node.maximum ??= format === "uint32" ? 4294967295 : 2147483647;
      }
    }
    if (check.check === "greater_than") {
      const value = numberOf(check, "value");
      if (check.inclusive) node.minimum = value;
      else node.exclusiveMinimum = value;
    }
    if (check.check === "less_than") {
      const value = numberOf(check, "value");
      if (check.inclusive) node.maximum = value;
      else node.exclusiveMaximum = value;
    }
    if (check.check === "multiple_of") node.multipleOf = numberOf(check, "value");
  }
  return node;
}

function objectNode(schema: z.ZodObject, path: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [key, value] of Object.entries(schema.shape)) {
    properties[key] = strictNode(value as z.ZodType, path ? `${path}.${key}` : key);
  }
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false };
}

function unionNode(schema: z.ZodUnion, path: string): JsonSchema {
  const options = schema._zod.def.options as z.ZodType[];
  const nonNull = options.filter((option) => !(presentSchema(option) instanceof z.ZodNull));
  const hasNull = nonNull.length !== options.length;
  // A union of literals is an enum: every provider understands enums, not every one understands anyOf.
  const literalSets = nonNull.map(literalValues);
  if (literalSets.every((set) => set !== undefined)) {
    const values = [...new Set(literalSets.flatMap((set) => set?.values ?? []))];
    const type = literalType(values);
    if (type) {
      const node: JsonSchema = { type, enum: values };
      return hasNull ? nullableStrict(node) : node;
    }
  }
  const converted = nonNull.map((option, index) => strictNode(option, `${path}|${index}`));
  const node: JsonSchema = converted.length === 1 && converted[0] ? converted[0] : { anyOf: converted };
  return hasNull ? nullableStrict(node) : node;
}

/**
 * The strict JSON schema for a message schema: every object lists all its properties as required and
 * forbids others; optional fields are nullable. The root must be an object (OpenAI requires it).
 */
export function toStrictJsonSchema(schema: z.ZodType): JsonSchema {
  const root = presentSchema(schema);
  if (!(root instanceof z.ZodObject) || isOptional(schema) || acceptsNull(schema)) {
    throw new UnsupportedSchemaError("", "a root that is not a plain object", "strict-json-schema");
  }
  return strictNode(schema, "");
}

/** The Gemini response schema for a message schema, from the strict schema so both always agree. */
export function toGeminiSchema(schema: z.ZodType): GeminiSchema {
  return geminiNode(toStrictJsonSchema(schema), "");
}

const geminiTypes: Record<Exclude<JsonSchemaType, "null">, SchemaType> = {
  string: SchemaType.STRING,
  number: SchemaType.NUMBER,
  integer: SchemaType.INTEGER,
  boolean: SchemaType.BOOLEAN,
  object: SchemaType.OBJECT,
  array: SchemaType.ARRAY,
};

function geminiNode(node: JsonSchema, path: string): GeminiSchema {
  const base: GeminiSchema = node.description ? { description: node.description } : {};
  if (node.anyOf) {
    const options = node.anyOf.filter((option) => option.type !== "null");
    const nullable = options.length !== node.anyOf.length;
    const converted =
      options.length === 1 && options[0]
        ? geminiNode({ ...options[0], description: node.description ?? options[0].description }, path)
        : { ...base, anyOf: options.map((option, index) => geminiNode(option, `${path}|${index}`)) };
    return nullable ? { ...converted, nullable: true } : converted;
  }
  const types = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type];
  const nullable = types.includes("null");
  const [type, ...others] = types.filter((t): t is Exclude<JsonSchemaType, "null"> => t !== "null");
  if (!type || others.length > 0) throw new UnsupportedSchemaError(path, "a multi-type value", "gemini");
  const out: GeminiSchema = { ...base, type: geminiTypes[type] };
  if (nullable) out.nullable = true;
  if (node.enum) {
    // Gemini enums are strings only.
    const values = node.enum.filter((value) => value !== null);
    if (type !== "string" || values.some((value) => typeof value !== "string")) {
      throw new UnsupportedSchemaError(path, "a non-string enum or literal", "gemini");
    }
    out.format = "enum";
    out.enum = values.map(String);
  }
  if (type === "object") {
    const entries = Object.entries(node.properties ?? {});
    // Gemini rejects an object schema with no properties.
    if (entries.length === 0) throw new UnsupportedSchemaError(path, "an object without properties", "gemini");
    out.properties = Object.fromEntries(entries.map(([key, value]) => [key, geminiNode(value, path ? `${path}.${key}` : key)]));
    out.required = node.required ?? entries.map(([key]) => key);
  }
  if (type === "array" && node.items) {
    out.items = geminiNode(node.items, `${path}[]`);
    if (node.minItems !== undefined) out.minItems = node.minItems;
    if (node.maxItems !== undefined) out.maxItems = node.maxItems;
  }
  return out;
}

/**
 * Maps a reply written against the strict schema back to the shape the zod schema expects: a `null` the
 * model wrote for an optional (or defaulted) field that does not itself accept null becomes an absent key.
 */
export function fromStrictJson(schema: z.ZodType, value: unknown): unknown {
  if (isOptional(schema) && value === null && !acceptsNull(schema)) return undefined;
  const inner = presentSchema(schema);
  if (value === null) return null;
  if (inner instanceof z.ZodNullable) return fromStrictJson(inner._zod.def.innerType as z.ZodType, value);
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    return value.map((item) => fromStrictJson(inner._zod.def.element as z.ZodType, item));
  }
  if (inner instanceof z.ZodObject && isRecord(value)) {
    const out: Record<string, unknown> = { ...value };
    for (const [key, field] of Object.entries(inner.shape)) {
      if (!(key in value)) continue;
      const mapped = fromStrictJson(field as z.ZodType, value[key]);
      if (mapped === undefined) delete out[key];
      else out[key] = mapped;
    }
    return out;
  }
  if (inner instanceof z.ZodUnion) {
    // The first option the value fits after mapping decides; otherwise leave it for zod to report.
    for (const option of inner._zod.def.options as z.ZodType[]) {
      const mapped = fromStrictJson(option, value);
      if (option.safeParse(mapped).success) return mapped;
    }
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
