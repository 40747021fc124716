export * from './chrono-forge-options.interface.js';
export * from './workflow-options.interface.js';
export * from './limit-options.interface.js';
export * from './workflow-interceptor.interface.js';
