import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { opsMarkdown } from './ops-doc.js';

it('OPS.md lists every op of the tables as they are (npm run docs regenerates it)', () => {
  assert.equal(readFileSync(new URL('../../OPS.md', import.meta.url), 'utf8'), opsMarkdown(), 'OPS.md is stale: run npm run docs');
});
