export * from './limit-definition.interface.js';
export * from './unknown-limit.error.js';
export * from './workflow-limits.js';
