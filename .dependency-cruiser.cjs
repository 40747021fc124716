// @ts-check
/**
 * The layer rule of lib/ (DESIGN.md point 22), checked by `npm run lint`.
 *
 * LAYERS lists lib/'s folders from the top (what boots or uses the engine) to the bottom (what
 * everything uses). A file may import its own folder and any folder below its own, never one
 * above: so no folder imports in a cycle. Files may not import in a cycle either, inside a
 * folder included. A new folder under lib/ has to be placed in LAYERS before it can import or be
 * imported (the `lib-folder-has-a-layer` rule), so the order stays a decision, not an accident.
 */
const LAYERS = [
  'testing', // the testing kit boots the module
  'cli', // the command line boots the module
  '', // lib/*.ts: index.ts (public API), chrono-forge.module.ts (wiring), module definition
  'dashboard', // optional Nest module: views and routes over the client, inspection and web
  'health', // ChronoForgeHealth: database, queue, worker heartbeat and sweeper lag checks
  'decorators', // @Workflow, @DurableStep, @Repeat, @Branch: metadata only
  'discovery', // finds decorated methods at bootstrap, registers definitions
  'worker', // the orchestrator: boot, job loop, heartbeat, shutdown
  'client', // WorkflowClient and handles: start, get, list, retry, cancel, signal
  'inspection', // the run read-model: run lists, run detail, overview counts, keyset paging
  'operations', // cleanup, repeat-tick pruning, scheduled cleanup
  'executor', // one pass of one run
  'context', // WorkflowContext, the facade user code calls
  'branches', // @Branch, spawn, spawnEach, merge
  'timers', // sleep, waitUntil, continueIf, signals, @Repeat
  'sagas', // rollback (compensations), cancel with reason/children, deadline enforcement
  'steps', // @DurableStep and ctx.step, failed attempts, fault injection
  'interceptors', // workflow interceptors: resolved at bootstrap, run around a pass and a step attempt
  'limits', // flow control: named limits, slots and waiters in PostgreSQL
  'lifecycle', // a pass's abort signals, step attempts with timeouts, deadlines, compensation records
  'run', // the pass's scope: run row, logs, durable state, lease
  'queue', // BullMQ jobs, wake listener
  'schedules', // durable cron: schedule rows, cron parsing, tick plans (the ticker lives in worker/)
  'persistence', // the run store: SQL over the runs, step logs and error logs
  'database', // the connection, entities, embedded server, engine statements, clock sync
  'definitions', // registry of workflow definitions, input and run-key checks, repeat schedules
  'options', // option types, their resolver, DI tokens, metadata keys
  'retry', // RetryPolicy
  'observability', // metrics and tracing
  'web', // HTTP and HTML primitives: Express/Fastify requests, forms, cookies, CSRF, escaped HTML
  'util', // durations, names, serialization, clock, redaction
  'errors', // ChronoForgeError and its subclasses
];

const folderPath = (layer) => (layer === '' ? '^lib/[^/]+$' : `^lib/${layer}/`);
const anyOf = (layers) => layers.map(folderPath).join('|');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files import in a cycle: move the shared concept down into its own file.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      scope: 'folder',
      comment: 'Folders import each other in a cycle: a concept sits in the wrong folder.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    ...LAYERS.slice(1).map((layer, i) => ({
      name: `layer-${layer === '' ? 'root' : layer}`,
      severity: 'error',
      comment:
        `lib/${layer} imports a folder above it (${LAYERS.slice(0, i + 1).join(', ') || 'root'}): ` +
        'move the concept it needs down, or this file up (see LAYERS in .dependency-cruiser.cjs).',
      from: { path: folderPath(layer) },
      to: { path: anyOf(LAYERS.slice(0, i + 1)) },
    })),
    {
      name: 'lib-folder-has-a-layer',
      severity: 'error',
      comment: 'A lib/ folder missing from LAYERS in .dependency-cruiser.cjs: place it there.',
      from: { path: '^lib/', pathNot: anyOf(LAYERS) },
      to: {},
    },
    {
      name: 'lib-folder-has-a-layer',
      severity: 'error',
      comment: 'A lib/ folder missing from LAYERS in .dependency-cruiser.cjs: place it there.',
      from: { path: '^lib/' },
      to: { path: '^lib/', pathNot: anyOf(LAYERS) },
    },
    {
      name: 'lib-imports-only-lib',
      severity: 'error',
      comment:
        'lib/ ships alone (with migrations/): it may not import tests, bench or the sample app.',
      from: { path: '^lib/' },
      to: { path: '^(test|bench|sample-app|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
