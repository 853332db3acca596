// The two names every model module shares, kept apart so the client interface (model-client.ts) and the
// tool-calling contract (tool-calling.ts) can both use them without importing each other.

export type ProviderName = "openai" | "gemini" | "ollama";

/** Token usage normalised across providers. */
export type Usage = { input: number; cachedInput: number; output: number };
