// Local mode for other commands (`aura eval run`): a session starts the app and its GitHub edge once and runs
// requirements on several repositories one after another, each exactly as `aura run` runs one (the same code
// paths, src/local/run.ts), returning its report instead of printing it; progress still goes to `stderr`.
export { openLocalSession, type LocalSession, type LocalSessionOptions, type LocalSessionRun } from "./run.js";
