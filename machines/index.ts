/** The actors of statehub, as pure XState v5 machines. Read these files to learn what each actor does. */
export * from './json.js';
export * from './job.js';
export * from './connector.js';
export * from './worker.js';
export * from './machine.js';
export * from './probe.js';
export * from './webhook.js';
