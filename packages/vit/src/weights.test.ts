import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { tensor } from '@ggem/tensor';
import { createVit, loadWeights, modelMetadata, readWeights, vitFromWeights, weightsToBlob, weightsToBytes, writeSafetensors } from './index.js';

const params = (m: ReturnType<typeof createVit>) => m.namedParameters().map(([k, p]) => [k, [...p.data]] as const);

describe('weights from bytes, Blobs, Responses and URLs', () => {
  const saved = createVit('vit_mnist_tiny', 'ggem', { seed: 1 });
  const bytes = weightsToBytes(saved, { format: 'pt' });
  let server: Server;
  let origin: string;

  before(async () => {
    // /ok the file; /missing 404; /html a page; /short the first half with the whole length declared
    server = createServer((req, res) => {
      if (req.url === '/ok') res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      else if (req.url === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>not here</p>');
      else if (req.url === '/short') {
        res.writeHead(200, { 'content-length': bytes.length });
        res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  it('loads the same parameters from every kind of source', async () => {
    const sources: [string, Parameters<typeof loadWeights>[1]][] = [
      ['Uint8Array', bytes],
      ['ArrayBuffer', bytes.slice().buffer],
      ['a DataView on an offset', new DataView(new Uint8Array([9, 9, ...bytes]).buffer, 2)],
      ['Blob', weightsToBlob(saved)],
      ['File', new File([bytes as Uint8Array<ArrayBuffer>], 'model.safetensors')],
      ['Response', new Response(bytes as Uint8Array<ArrayBuffer>)],
      ['URL string', `${origin}/ok`],
      ['URL', new URL('/ok', origin)],
    ];
    for (const [what, source] of sources) {
      const m = createVit('vit_mnist_tiny', 'ggem', { seed: 2 });
      assert.deepEqual(await loadWeights(m, source), { missing: [], unexpected: [], mismatched: [], config: [], resampled: [] }, what);
      assert.deepEqual(params(m), params(saved), what);
    }
    assert.equal((await readWeights(`${origin}/ok`)).metadata.format, 'pt');
  });

  it('fails naming the source, and leaves the model as it was', async () => {
    const other = createVit('vit_mnist_tiny', 'max');
    const cases: [Parameters<typeof loadWeights>[1], RegExp][] = [
      [`${origin}/missing`, /\/missing: HTTP 404 Not Found, not safetensors weights/],
      [`${origin}/html`, /\/html: .*(header length|too short)/],
      [`${origin}/short`, /\/short: (the download broke off|received \d+ of \d+ bytes: truncated download)/],
      ['http://127.0.0.1:1/none', /127\.0\.0\.1:1\/none: could not fetch the weights/],
      ['model.safetensors', /model\.safetensors: not a URL, .* loadWeightsFile from @ggem\/vit\/node/],
      [new File([bytes.subarray(0, 100) as Uint8Array<ArrayBuffer>], 'cut.safetensors'), /cut\.safetensors: .*truncated\?/],
      [
        weightsToBytes(other),
        /safetensors bytes: saved from another model \(pooling: the file's "max", the model's "ggem"; poolGroups: the file's none, the model's 4\)/,
      ],
      [new Uint8Array(writeSafetensors(other.stateDict())), /safetensors bytes: loadStateDict \(VisionTransformer\): missing keys: pool\.p/],
      [
        writeSafetensors(createVit('vit_mnist_tiny', 'ggem').stateDict(), { 'ggem.vit': 'null' }),
        /saved from another model \(ggem\.vit is not an object: null\)/,
      ],
      [42 as unknown as Uint8Array, /readWeights: expected bytes .* got \[object Number\]/],
    ];
    for (const [source, err] of cases) {
      const m = createVit('vit_mnist_tiny', 'ggem', { seed: 3 });
      const before = params(m);
      const what = typeof source === 'string' ? source : err.source;
      await assert.rejects(loadWeights(m, source), err, what);
      assert.deepEqual(params(m), before, `${what}: the model is unchanged`);
    }
  });
  it('reads a Node Buffer that is a view into a larger pool (its slice() does not copy)', async () => {
    const view = Buffer.concat([Buffer.alloc(3), Buffer.from(bytes)]).subarray(3);
    const m = createVit('vit_mnist_tiny', 'ggem', { seed: 2 });
    await loadWeights(m, view);
    assert.deepEqual(params(m), params(saved));
  });
  it('a BF16 file is half the size and loads to the rounded weights; an integer tensor (a step counter) is reported by name when skipped', async () => {
    const bf16 = weightsToBytes(saved, {}, { dtype: 'BF16' });
    assert.ok(bf16.length < 0.52 * bytes.length, `${bf16.length} vs ${bytes.length}`);
    const m = createVit('vit_mnist_tiny', 'ggem', { seed: 2 });
    await loadWeights(m, bf16);
    const want = params(saved);
    params(m).forEach(([k, v], i) => v.forEach((x, j) => assert.ok(Math.abs(x - want[i]![1][j]!) <= 2 ** -8 * Math.abs(want[i]![1][j]!), k)));
    const withStep = writeSafetensors({ ...saved.stateDict(), num_batches_tracked: tensor(Int32Array.from([1200]), { dtype: 'int32' }) }, modelMetadata(saved));
    const r = await loadWeights(createVit('vit_mnist_tiny', 'ggem', { seed: 2 }), withStep, { strict: false });
    assert.deepEqual(r.unexpected, ['num_batches_tracked']);
    await assert.rejects(loadWeights(createVit('vit_mnist_tiny', 'ggem', { seed: 2 }), withStep), /unexpected keys: num_batches_tracked/);
  });
  it('vitFromWeights builds the model a file describes, and names what is wrong with one that describes none', async () => {
    const g = createVit('vit_mnist_tiny', 'ggem', { seed: 4, poolGroups: 2, patchSize: 7 });
    const m = await vitFromWeights(weightsToBytes(g));
    assert.equal(m.config.pooling, 'ggem');
    assert.equal(m.config.poolGroups, 2);
    assert.equal(m.config.patchSize, 7);
    assert.deepEqual(params(m), params(g));
    assert.equal(m.training, false, 'ready to predict');
    await assert.rejects(vitFromWeights(writeSafetensors(g.stateDict())), /safetensors bytes: no ggem\.vit metadata \(the architecture\)/);
    await assert.rejects(vitFromWeights(writeSafetensors(g.stateDict(), { 'ggem.vit': '{"depth": -1}' })), /ggem\.vit does not describe a ViT/);
    await assert.rejects(vitFromWeights(new Uint8Array([1, 2, 3])), /safetensors bytes: /);
  });
});
