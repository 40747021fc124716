export * from './limit-info.interface.js';
export * from './workflow-limits.js';
