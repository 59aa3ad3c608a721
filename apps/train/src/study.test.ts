import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaults } from './options.js';
import { study, type StudyName, type StudyOptions } from './study.js';

/** Each study in miniature: a 1-block, 16-wide ViT on 160 images, 2 seeds, 2 values per axis. */
function tiny(name: StudyName, root: string): StudyOptions {
  return {
    name,
    base: {
      ...defaults,
      preset: 'vit_mnist_tiny',
      dim: 16,
      depth: 2,
      heads: 2,
      epochs: 1,
      batchSize: 32,
      limit: 160,
      testLimit: 64,
      knnK: 0,
      quiet: true,
      threads: 1,
      out: '',
    },
    seeds: [0, 1],
    pValues: [1, 3],
    groups: [1, 2],
    blocks: [0, 2],
    pretrainEpochs: 1,
    runs: join(root, 'runs'),
    out: join(root, name),
    command: `study ${name}`,
  };
}

describe('study', () => {
  const root = mkdtempSync(join(tmpdir(), 'ggem-study-'));
  const read = (name: StudyName) => readFileSync(join(root, name, 'report.md'), 'utf8');
  const row = /\| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|/;

  it('init-p (Fig. 6): the three variants at each initial p, with the final p and plots', async () => {
    await study(tiny('init-p', root), () => {});
    const md = read('init-p');
    for (const s of ['GeM, p fixed', 'GeM', 'GGeM']) assert.match(md, new RegExp(`\\| ${s} ${row.source}`), s);
    assert.match(md, /GGeM: highest mean top-1 at initial p = [13] /);
    assert.match(md, /\| GGeM \| 3 \| [\d.]+ ± [\d.]+ \|/);
    for (const f of ['accuracy-vs-p.svg', 'p-trajectories-ggem.svg']) assert.match(readFileSync(join(root, 'init-p', f), 'utf8'), /^<svg /);
    const json = JSON.parse(readFileSync(join(root, 'init-p', 'study.json'), 'utf8'));
    assert.equal(json.results.length, 3 * 2 * 2);
    assert.equal(readdirSync(join(root, 'runs')).length, 12, 'one folder a run');
  });

  it('p-trajectories (Fig. 8) shares the runs it has in common with init-p, and adds p at 1×', async () => {
    const logs: string[] = [];
    await study(tiny('p-trajectories', root), (s) => logs.push(s));
    // GeM and GGeM from p0 = 1 and 3 are init-p's runs, read back; the 1× ones are new
    assert.equal(readdirSync(join(root, 'runs')).length, 12 + 4);
    assert.equal(logs.filter((l) => l.startsWith('resumed from')).length, 8);
    const md = read('p-trajectories');
    assert.match(md, /\| GGeM, p at the weights' rate \| 3 \| /);
    assert.ok(existsSync(join(root, 'p-trajectories', 'p-trajectories-ggem-p-at-the-weights-rate.svg')));
  });

  it('groups (Fig. 7) and a second invocation that trains nothing', async () => {
    await study(tiny('groups', root), () => {});
    assert.match(read('groups'), new RegExp(`\\| GGeM ${row.source}`));
    const logs: string[] = [];
    await study(tiny('groups', root), (s) => logs.push(s));
    assert.equal(logs.filter((l) => /^epoch \d/.test(l)).length, 0, 'every run read back');
  });

  it('finetune (Table 2): one trunk per seed, every pooling at each k', async () => {
    await study(tiny('finetune', root), () => {});
    const md = read('finetune');
    for (const p of ['token', 'avg', 'max', 'gem', 'ggem']) assert.match(md, new RegExp(`\\| ${p} ${row.source}`), p);
    assert.match(md, /\| \| k = 0 \| k = 2 \|/);
  });
});
