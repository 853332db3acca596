// The layering rule (`npm run lint` runs it, so CI does): who may import whom in src/. docs/architecture.md
// opens with the same map in prose.
//
//   top       src/server/, src/console/ (the Director's console and MCP server: reads every role's records),
//             src/local/ (`aura run`: the whole app against a local GitHub edge), src/eval/ (`aura eval`),
//             src/operations/ (`aura backup | restore`), src/app.ts, src/main.ts, src/cli.ts, src/roles.ts: wiring
//             and tools; may use everything below.
//   roles     src/{manager,employees,governor,auditor,accountant,hr,director}/: one role each; may use plumbing,
//             and another role only through the modules that role exports on purpose (ROLE_SURFACES below).
//   plumbing  src/{core,db,queue,github,config,workspace,audit,models,observability}/ and src/services.ts (the contract every
//             role's jobs get): may use only plumbing, never a role or the top.
// And no import cycles anywhere, type-only imports included.

/**
 * What each role exports on purpose: the only modules of a role that other roles may import, each with why.
 * Adding a module here is a design decision; say why in its comment.
 */
const ROLE_SURFACES = {
  // The ledger is the Accountant's: others ask it (ledger.ts's queries and record functions), and read its
  // numbers and formatting (posteriors for routing, the scoreboard and format for the Director's comments;
  // outcome, posterior and strikes are the score maths HR judges by). eval-results: the eval figures the
  // scoreboard shows beside live outcomes and a director's `/aura trial` reads (never the live posterior).
  accountant: ["ledger", "posteriors", "posterior", "outcome", "strikes", "scoreboard", "format", "eval-results"],
  // The governor's evidence rule reads the Auditor's records; the pull gate starts the Auditor's review.
  auditor: ["evidence-store", "audit-pull"],
  // The Director's `/aura revise` hands a revision to the Employees.
  employees: ["revise"],
  // The Auditor re-judges through the gate and finds the task of a pull request; the Director records overrides
  // and repository-rule approvals and reads stored verdicts; the Manager's reconciler confirms backfilled pulls.
  // pull-context.ts is the data the governor judges (types only), whose evidence part the Auditor fills.
  governor: ["pull-context", "gate", "task-record", "overrides", "repo-rules-approval", "verdict-store", "confirm-pulls"],
  // HR's standings and thresholds (the scoreboard, routing's probation cap, the Director's HR verbs and duty).
  hr: ["employee-status", "review-employee", "probation", "hr-duty"],
  // The Manager routes (the Director's reassign is a routing override) and runs a requirement's lifecycle
  // (the Director approves plans and cancels requirements; a closed pull request releases dependents).
  // Its glob algebra decides an agent's scope requests exactly as it decides plans (protected paths, other tasks).
  manager: ["assign", "lifecycle", "glob-overlap"],
  director: [],
};

const ROLES = Object.keys(ROLE_SURFACES).join("|");
const PLUMBING = "^src/(core|db|queue|github|config|workspace|audit|models|observability)/|^src/services\\.ts$";
const TOP = "^src/(server/|console/|local/|eval/|operations/|app\\.ts$|main\\.ts$|cli\\.ts$|roles\\.ts$)";

const surfacePaths = Object.entries(ROLE_SURFACES).flatMap(([role, modules]) => modules.map((name) => `^src/${role}/${name}\\.ts$`));

/** @type {import("dependency-cruiser").IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "An import cycle ties modules into one: break it by moving the shared part below both.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "plumbing-uses-only-plumbing",
      severity: "error",
      comment: "Plumbing sits below the roles: it must not import a role or the wiring on top. Move the shared part down instead.",
      from: { path: PLUMBING },
      to: { path: "^src/", pathNot: PLUMBING },
    },
    {
      name: "roles-do-not-import-the-top",
      severity: "error",
      comment: "A role never imports the wiring (server, console, app, main, cli, roles.ts): what it needs comes in through Services or its arguments.",
      from: { path: `^src/(${ROLES})/` },
      to: { path: TOP },
    },
    {
      name: "roles-meet-through-their-surfaces",
      severity: "error",
      comment:
        "A role imports another role only through a module that role exports on purpose (ROLE_SURFACES in .dependency-cruiser.mjs). " +
        "Plumbing that several roles need belongs below the roles (src/core/ and the other plumbing folders).",
      from: { path: `^src/(${ROLES})/` },
      to: { path: `^src/(${ROLES})/`, pathNot: ["^src/$1/", ...surfacePaths] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    includeOnly: "^src/",
    // Type-only imports are dependencies too: a cycle through types is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"] },
  },
};
