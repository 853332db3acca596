// Bottleneck schedules every GitHub request of the throttling and retry plugins (and the app's own write groups).
// Its in-process datastore yields to the event loop before each of its steps with `setTimeout(resolve, 0)`, which
// Node rounds up to a 1 ms timer: about a dozen per request, 10–15 ms of waiting on every request against a GitHub
// that answers in under a millisecond (measured: 16.7 ms per request through Probot's Octokit against a local
// server, 6.1 ms with this, 1.2 ms with both plugins off). This makes those yields `setImmediate`: still a turn of
// the event loop (I/O and other work run in between, as before), without the timer. A yield with a real delay
// (t > 0) keeps its timer. Bottleneck 2 has no option for this; the datastore class is reached through an
// instance (`_store`), and both module files of the package are patched (the plugins load `bottleneck/light.js`,
// the app's groups `bottleneck`).
import { createRequire } from "node:module";
import Bottleneck from "bottleneck";

type Datastore = { yieldLoop: (t?: number) => Promise<void>; Promise: PromiseConstructor };

const require = createRequire(import.meta.url);
let patched: object[] | undefined;

/** Makes Bottleneck's zero-delay yields immediate in this process (once); returns the patched datastore prototypes. */
export function useImmediateYields(): object[] {
  patched ??= [Bottleneck, require("bottleneck/light.js") as typeof Bottleneck].flatMap((BottleneckClass) => {
    const probe = new BottleneckClass() as unknown as { _store?: object };
    const prototype = probe._store ? (Object.getPrototypeOf(probe._store) as Datastore) : undefined;
    void (probe as unknown as Bottleneck).disconnect(false);
    if (!prototype || typeof prototype.yieldLoop !== "function") return [];
    const original = prototype.yieldLoop;
    prototype.yieldLoop = function (this: Datastore, t = 0) {
      return t > 0 ? original.call(this, t) : new this.Promise<void>((resolve) => setImmediate(resolve));
    };
    return [prototype];
  });
  return patched;
}
