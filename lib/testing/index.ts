export * from './chrono-forge-testing.module.js';
export * from './explore-options.interface.js';
export * from './test-harness.js';
export { FaultInjector, SimulatedCrash, type CrashPhase } from '../steps/fault-injector.js';
export * from './replay.js';
