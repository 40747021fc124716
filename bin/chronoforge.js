#!/usr/bin/env node
// `npx chronoforge <command>`: see `chronoforge --help`. Runs the compiled CLI from dist/.
import { runCli } from '../dist/lib/cli/cli.js';

const io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
};
const code = await runCli(process.argv.slice(2), io);
// A boot that failed (PostgreSQL down, no such database) can leave connections that Nest never
// closes (the queue's Redis client keeps reconnecting): exit once the output is flushed instead
// of waiting for them forever.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((r) => s.write('', r))));
process.exit(code);
