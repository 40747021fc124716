#!/usr/bin/env node
// The registry mirror this project is developed against serves only Linux builds of native
// optional dependencies, so `npm install` leaves the other platforms' entries out of
// package-lock.json and `npm ci` then refuses the lock ("Missing: … from lock file").
// This adds the absent entries, marked optional with their os/cpu, so `npm ci` skips them on
// platforms they do not match, exactly as it does with entries written by a full registry.
// Run it after any `npm install` that changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
const OS = ['darwin', 'win32', 'linux', 'freebsd', 'android', 'sunos', 'openbsd'];
const CPU = {
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  gnueabihf: 'arm',
  arm: 'arm',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
};
let added = 0;
for (const [where, pkg] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = where === '' ? 'node_modules' : `${where}/node_modules`;
    if (packages[`${base}/${name}`] || packages[`node_modules/${name}`]) continue;
    const tokens = name.split(/[/-]/);
    const os = OS.find((o) => tokens.includes(o));
    const cpuToken = [...tokens].reverse().find((t) => t in CPU);
    if (!os || !cpuToken) {
      console.warn(`complete-lockfile: cannot infer the platform of ${name}; left out`);
      continue;
    }
    packages[`node_modules/${name}`] = {
      version,
      ...(pkg.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [CPU[cpuToken]],
    };
    added++;
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entr${added === 1 ? 'y' : 'ies'}`);
