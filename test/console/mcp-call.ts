// Calls one MCP tool as an IDE would and reads the answer: its JSON value (or the text when it is a sentence,
// as a refusal is), the text itself, and whether the server flagged it as an error.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ value: unknown; text: string; isError: boolean }> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // A refusal is a sentence, not JSON.
  }
  return { value, text, isError: result.isError === true };
}
