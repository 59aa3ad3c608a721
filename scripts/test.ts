/**
 * Runs the tests of every package and app in one `node --test` process, so that CI reads a
 * single closing summary. Sources run through tsx with the project's own `@ggem/source` export
 * condition, so packages import each other's TypeScript directly (no build step before
 * testing), with relaxed-simd on (scripts/relaxed-simd.mjs).
 * Extra arguments are passed to node's test runner (e.g. --test-name-pattern=matmul).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = ['packages', 'apps', 'tests', 'tools'].flatMap((d) => findTests(d)).sort();
const args = [
  '--expose-gc',
  '--conditions=@ggem/source',
  '--import',
  'tsx',
  '--import',
  './scripts/relaxed-simd.mjs',
  '--test',
  ...process.argv.slice(2),
  ...files,
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
