#!/usr/bin/env node
// `npx chronoforge <command>`: see `chronoforge --help`. Runs the compiled CLI from dist/.
import { runCli } from '../dist/lib/operations/cli.js';

const io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
};
process.exitCode = await runCli(process.argv.slice(2), io);
