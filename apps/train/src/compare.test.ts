import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compare } from './compare.js';
import { defaults } from './options.js';

describe('compare', () => {
  it('writes the tables, the analysis and the SVG plots for every pooling and seed', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ggem-compare-'));
    const base = {
      ...defaults,
      preset: 'vit_mnist_tiny' as const,
      dim: 16,
      depth: 1,
      heads: 2,
      epochs: 1,
      batchSize: 32,
      limit: 64,
      testLimit: 64,
      knnK: 3,
      quiet: true,
      out,
    };
    const report = await compare({ base, poolings: ['avg', 'ggem'], seeds: [0, 1], retrieval: true, analysisImages: 4, command: 'test' }, () => {});
    const md = readFileSync(report, 'utf8');
    assert.match(md, /\| avg \| \d+\.\d\d ± \d+\.\d\d \| \d+\.\d\d ± \d+\.\d\d \|/);
    assert.match(md, /\| ggem \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|/, 'retrieval row');
    assert.match(md, /mean inter-head CKA/);
    for (const f of ['learning-curves.svg', 'test-accuracy.svg', 'p-trajectories.svg']) {
      assert.ok(existsSync(join(out, f)), f);
      assert.match(readFileSync(join(out, f), 'utf8'), /^<svg /);
    }
    const runs = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    assert.equal(runs.length, 4);
  });
});
