// Writes that create something (a comment, a review) must happen once. GitHub can answer 5xx after it has
// applied a write, so the retry plugin's blind repeat of such a POST can create a second one. These requests are
// sent with the plugin's retries off (`NO_BLIND_RETRY`), and after a 5xx `createOnce` looks for what the POST may
// have created before it posts again.

/** Request option: the retry plugin does not repeat this request. */
export const NO_BLIND_RETRY = { request: { retries: 0 } } as const;

/** How often a create is tried in all when GitHub answers 5xx. */
const TRIES = 3;

/** `create` (sent with NO_BLIND_RETRY); after a 5xx, what `find` finds, else `create` again, up to three tries. */
export async function createOnce<T>(create: () => Promise<T>, find: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await create();
    } catch (error) {
      if (((error as { status?: number }).status ?? 0) < 500 || attempt >= TRIES) throw error;
      const found = await find();
      if (found !== undefined) return found;
    }
  }
}
