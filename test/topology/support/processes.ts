import { userInfo } from 'node:os';

export { freePorts, run, sleep, until } from '../../support/processes.js';

/** The topology suite's private servers run as this OS user when the tests run as root. */
export const AS_ROOT = userInfo().uid === 0;
