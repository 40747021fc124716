export * from './durable-step.decorator.js';
export * from './workflow.decorator.js';
export * from './repeat.decorator.js';
export * from './branch.decorator.js';
export * from './scheduled.decorator.js';
export * from './on-cancel.decorator.js';
export * from './use-workflow-interceptors.decorator.js';
