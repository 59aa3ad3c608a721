/**
 * The API reference: TypeDoc (typedoc.json, what `npm run docs` runs) builds it from the doc
 * comments of every entry with no warning (an invalid {@link} or an unresolvable type fails).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

it('npm run docs: TypeDoc builds the API reference of every entry without a warning', () => {
  const out = mkdtempSync(join(tmpdir(), 'ggem-api-'));
  try {
    const r = spawnSync(process.execPath, [join(repo, 'node_modules/typedoc/bin/typedoc'), '--out', out], { cwd: repo, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    for (const page of ['index.html', 'modules.html']) assert.ok(existsSync(join(out, page)), `${page} written`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
