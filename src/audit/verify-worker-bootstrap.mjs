// Loads the TypeScript verify worker in a worker thread: registers tsx there first, since loader hooks
// given on the command line do not reach worker threads.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
