// The zod → provider schema converter: strictness rules, Gemini's dialect, and mapping strict replies back.
import { SchemaType } from "@google/generative-ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fromStrictJson, toGeminiSchema, toStrictJsonSchema, UnsupportedSchemaError, type JsonSchema } from "../../src/models/json-schema.js";

/** Every object in a strict schema must list all its properties as required and forbid others. */
function assertStrictObjects(node: JsonSchema, path = "<root>"): void {
  if (node.type === "object" || node.properties) {
    expect(node.additionalProperties, path).toBe(false);
    expect([...(node.required ?? [])].sort(), path).toEqual(Object.keys(node.properties ?? {}).sort());
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) assertStrictObjects(child, `${path}.${key}`);
  if (node.items) assertStrictObjects(node.items, `${path}[]`);
  for (const option of node.anyOf ?? []) assertStrictObjects(option, `${path}|`);
}

const Plan = z.object({
  title: z.string().min(3).max(80).describe("Short title"),
  taskClass: z.enum(["bugfix", "feature", "docs"]),
  estimateHours: z.number().positive().max(40),
  priority: z.number().int().min(1).max(5),
  steps: z
    .array(
      z.object({
        id: z.string(),
        dependsOn: z.array(z.string()).default([]),
        note: z.string().optional(),
      }),
    )
    .min(1)
    .max(5),
  reviewer: z.string().nullable(),
  kind: z.literal("plan"),
});

describe("toStrictJsonSchema", () => {
  it("makes every nested object strict: all properties required, nothing else allowed", () => {
    const schema = toStrictJsonSchema(Plan);

    assertStrictObjects(schema);
    expect(schema.properties?.steps?.items?.required).toEqual(["id", "dependsOn", "note"]);
  });

  it("turns optional and defaulted fields into nullable ones", () => {
    const step = toStrictJsonSchema(Plan).properties?.steps?.items?.properties;

    expect(step?.note).toEqual({ type: ["string", "null"] });
    expect(step?.dependsOn).toEqual({ anyOf: [{ type: "array", items: { type: "string" } }, { type: "null" }] });
  });

  it("keeps enums, literals, number bounds, integer and array length limits", () => {
    const properties = toStrictJsonSchema(Plan).properties;

    expect(properties?.taskClass).toEqual({ type: "string", enum: ["bugfix", "feature", "docs"] });
    expect(properties?.kind).toEqual({ type: "string", enum: ["plan"] });
    expect(properties?.estimateHours).toEqual({ type: "number", exclusiveMinimum: 0, maximum: 40 });
    expect(properties?.priority).toEqual({ type: "integer", minimum: 1, maximum: 5 });
    expect(properties?.steps?.minItems).toBe(1);
    expect(properties?.steps?.maxItems).toBe(5);
  });

  it("states string length limits in the description, since strict mode rejects minLength/maxLength", () => {
    const title = toStrictJsonSchema(Plan).properties?.title;

    expect(title).toEqual({ type: "string", description: "Short title (at least 3 characters; at most 80 characters)" });
  });

  it("keeps a description given on an optional wrapper alongside the inner limits", () => {
    const schema = toStrictJsonSchema(z.object({ note: z.string().max(10).optional().describe("Reviewer note") }));

    expect(schema.properties?.note).toEqual({ type: ["string", "null"], description: "Reviewer note (at most 10 characters)" });
  });

  it("merges a union of literals into one enum and keeps other unions as anyOf", () => {
    const schema = toStrictJsonSchema(
      z.object({
        level: z.union([z.literal("low"), z.literal("high"), z.null()]),
        edit: z.discriminatedUnion("op", [
          z.object({ op: z.literal("write"), path: z.string(), content: z.string() }),
          z.object({ op: z.literal("delete"), path: z.string() }),
        ]),
      }),
    );

    expect(schema.properties?.level).toEqual({ type: ["string", "null"], enum: ["low", "high", null] });
    expect(schema.properties?.edit?.anyOf).toHaveLength(2);
    assertStrictObjects(schema);
  });

  it("refuses a root that is not an object and constructs strict mode cannot express", () => {
    const attempts = [
      () => toStrictJsonSchema(z.array(z.string())),
      () => toStrictJsonSchema(z.object({ tags: z.record(z.string(), z.string()) })),
      () => toStrictJsonSchema(z.object({ anything: z.unknown() })),
    ];

    for (const attempt of attempts) expect(attempt).toThrow(UnsupportedSchemaError);
  });

  it("names the path of the construct it cannot convert", () => {
    const convert = () => toStrictJsonSchema(z.object({ outer: z.object({ bad: z.tuple([z.string()]) }) }));

    expect(convert).toThrow(/outer\.bad/);
  });
});

describe("toGeminiSchema", () => {
  it("uses SchemaType, nullable and enum format, and never additionalProperties", () => {
    const schema = toGeminiSchema(Plan);

    expect(schema.type).toBe(SchemaType.OBJECT);
    expect(JSON.stringify(schema)).not.toContain("additionalProperties");
    expect(schema.properties?.reviewer).toEqual({ type: SchemaType.STRING, nullable: true });
    expect(schema.properties?.taskClass).toEqual({ type: SchemaType.STRING, format: "enum", enum: ["bugfix", "feature", "docs"] });
    expect(schema.properties?.steps?.items?.properties?.dependsOn).toEqual({
      type: SchemaType.ARRAY,
      items: { type: SchemaType.STRING },
      nullable: true,
    });
    expect(schema.properties?.steps?.items?.required).toEqual(["id", "dependsOn", "note"]);
  });

  it("refuses numeric enums, which Gemini cannot express", () => {
    const convert = () => toGeminiSchema(z.object({ size: z.union([z.literal(1), z.literal(2)]) }));

    expect(convert).toThrow(UnsupportedSchemaError);
  });
});

describe("fromStrictJson", () => {
  it("turns null for an optional or defaulted field into an absent key so zod applies its default", () => {
    const reply = {
      title: "Fix login",
      taskClass: "bugfix",
      estimateHours: 2,
      priority: 1,
      steps: [{ id: "t1", dependsOn: null, note: null }],
      reviewer: null,
      kind: "plan",
    };

    const parsed = Plan.parse(fromStrictJson(Plan, reply));

    expect(parsed.steps[0]).toEqual({ id: "t1", dependsOn: [] });
    expect(parsed.reviewer).toBeNull();
  });

  it("keeps null where the zod schema itself accepts null", () => {
    const Schema = z.object({ value: z.string().nullable().optional() });

    expect(fromStrictJson(Schema, { value: null })).toEqual({ value: null });
  });

  it("maps inside the union option the value fits", () => {
    const Schema = z.object({
      edit: z.union([
        z.object({ op: z.literal("write"), path: z.string(), mode: z.string().optional() }),
        z.object({ op: z.literal("delete"), path: z.string() }),
      ]),
    });

    expect(Schema.parse(fromStrictJson(Schema, { edit: { op: "write", path: "a.ts", mode: null } }))).toEqual({
      edit: { op: "write", path: "a.ts" },
    });
  });
});
