/**
 * The consumer matrix: the three packages packed as npm publishes them, installed into a
 * fresh folder outside the repository, and the consumer program (app/) built for every way
 * users load them: TypeScript (nodenext, bundler, node10 resolution; a browser project
 * without @types/node and with skipLibCheck off), plain Node ESM, CommonJS require,
 * esbuild (ESM and IIFE), webpack 5 (production, development), Vite (default config),
 * Rollup with node-resolve, and a page with an import map over dist/. Each build must pass
 * with no warning, each page must log no error, and every run must give the Node run's
 * numbers. Node builds run in Node, browser builds in Debian's chromium (one browser).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import type { BrowserContext } from 'playwright-core';
import { collectErrors, launchChromium, serve, skipWithoutChromium } from '@ggem/chromium';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const PACKAGES = ['tensor', 'pooling', 'vit'] as const;
const TSC = join(repo, 'node_modules/typescript/bin/tsc');
/**
 * The bundle of a program that imports only @ggem/tensor, minified, may not grow past this:
 * 81.0 KB with the engine's heap, pinned weights, fused GELU and transposing pack (the
 * speed issue), 71 KB with the op tables' 43 elementwise ops (their gpu.js bodies are
 * strings in the table), 61 KB with 24 before them.
 */
const TENSOR_BUNDLE_LIMIT = 84 * 1024;

interface Result {
  grad: number[];
  loss: number;
  logits: number[];
  reloaded: number[][];
  sources: string[];
  preprocessed: number[];
  top: number[];
  imageData: boolean;
  error?: string;
}

/** The folder of one consumer: the packed packages in node_modules, the program in app/. */
let root: string;
let tarballs: { name: string; files: string[] }[];
let reference: Result & { fileRoundTrip: boolean; nodeEntries: boolean };

const node = async (...args: string[]) => (await exec(process.execPath, args, { cwd: root, maxBuffer: 64 << 20 })).stdout;
async function tsc(config: object, name: string): Promise<void> {
  writeFileSync(join(root, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
  try {
    await exec(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], { cwd: root });
  } catch (e) {
    throw new Error(`tsc (${name}) failed:\n${(e as { stdout?: string }).stdout ?? ''}${(e as Error).message}`);
  }
}
const strict = { strict: true, target: 'ES2022', skipLibCheck: false, rootDir: 'app' };

before(async () => {
  await exec('npm', ['run', 'build', '--', '--filter=@ggem/tensor', '--filter=@ggem/pooling', '--filter=@ggem/vit'], {
    cwd: repo,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
  root = mkdtempSync(join(tmpdir(), 'ggem-consumer-'));
  const packed = join(root, 'packed');
  mkdirSync(packed);
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', packed, ...PACKAGES.flatMap((p) => ['-w', `@ggem/${p}`])], {
    cwd: repo,
    maxBuffer: 16 << 20,
  });
  const list = JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[];
  tarballs = list.map((t) => ({ name: t.name, files: t.files.map((f) => f.path) }));
  for (const t of list) {
    const dest = join(root, 'node_modules', t.name);
    mkdirSync(dest, { recursive: true });
    await exec('tar', ['-xzf', join(packed, t.filename), '-C', dest, '--strip-components=1']);
  }
  mkdirSync(join(root, 'node_modules/@types'));
  symlinkSync(join(repo, 'node_modules/@types/node'), join(root, 'node_modules/@types/node'));
  cpSync(join(here, 'app'), join(root, 'app'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // the Node build (tsc, nodenext) and the browser one (tsc, bundler resolution, no @types/node)
  await Promise.all([
    tsc(
      {
        compilerOptions: { ...strict, module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], outDir: 'dist-node' },
        files: ['app/app.ts', 'app/node-main.ts'],
      },
      'node',
    ),
    tsc(
      {
        compilerOptions: { ...strict, module: 'esnext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: [], outDir: 'dist-browser' },
        files: ['app/app.ts', 'app/browser-main.ts', 'app/tensor-only.ts'],
      },
      'browser',
    ),
  ]);
  reference = JSON.parse(await node('dist-node/node-main.js'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function assertSameResult(got: Result, what: string, tolerance: number): void {
  assert.equal(got.error, undefined, `${what}: ${got.error}`);
  assert.deepEqual(got.grad, reference.grad, `${what}: x.grad`);
  const close = (a: number[], b: number[], name: string) => {
    assert.equal(a.length, b.length, `${what}: ${name} length`);
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i]! - b[i]!) <= tolerance * (1 + Math.abs(b[i]!)), `${what}: ${name}[${i}] ${a[i]} vs the Node build's ${b[i]}`);
  };
  close([got.loss], [reference.loss], 'loss');
  close(got.logits, reference.logits, 'logits');
  assert.ok(got.reloaded.length >= 2, `${what}: reloaded from ${got.sources.join(', ')}`);
  got.reloaded.forEach((r, i) => assert.deepEqual(r, got.logits, `${what}: a fresh model loaded from ${got.sources[i]} predicts as the saved one`));
  // the eval transform is exact integer arithmetic, then float32: the same bits everywhere
  assert.deepEqual(got.preprocessed, reference.preprocessed, `${what}: the preprocessed image`);
  assert.deepEqual(got.top, reference.top, `${what}: the top-3 classes`);
}

describe('consumer matrix: packed packages', () => {
  it('ship dist/, README and LICENSE only: no sources, tests, test helpers or source maps', () => {
    assert.deepEqual(tarballs.map((t) => t.name).sort(), PACKAGES.map((p) => `@ggem/${p}`).sort());
    for (const t of tarballs) {
      const stray = t.files.filter(
        (f) => !/^(dist\/.*\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/.test(f) || /(\.test\.|(^|\/)test\/|browser-suite|op-cases)/.test(f),
      );
      assert.deepEqual(stray, [], `${t.name} ships ${stray.join(', ')}`);
      for (const f of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts']) assert.ok(t.files.includes(f), `${t.name} lacks ${f}`);
      const pkg = JSON.parse(readFileSync(join(root, 'node_modules', t.name, 'package.json'), 'utf8'));
      for (const field of ['license', 'repository', 'engines', 'keywords', 'files', 'main', 'types'])
        assert.ok(pkg[field] !== undefined, `${t.name}: package.json has no ${field}`);
    }
  });
});

describe('consumer matrix: Node and TypeScript', () => {
  it('Node ESM (tsc nodenext, plain node): runs, with the Node-only entries', () => {
    assert.deepEqual(reference.grad, [7, 13, 19, -23]);
    assert.equal(reference.preprocessed.length, 28 * 28, 'a 28² gray image');
    assert.ok(new Set(reference.preprocessed).size > 50 && reference.preprocessed.every((v) => v >= -1 && v <= 1), 'normalised to [-1, 1], not constant');
    assert.ok(Number.isFinite(reference.loss) && reference.logits.length === 40, `loss ${reference.loss}, ${reference.logits.length} logits`);
    assertSameResult(reference, 'Node ESM', 0);
    assert.ok(reference.fileRoundTrip, 'weights saved to a file and loaded back');
    assert.ok(reference.nodeEntries, '@ggem/tensor/node exports DataParallel and enableRelaxedSimd');
  });
  it('CommonJS require() of each package gives the same numbers', async () => {
    assertSameResult(JSON.parse(await node('app/require.cjs')), 'require', 0);
  });
  it('TypeScript with moduleResolution node10 (top-level types) type-checks the program', async () => {
    await tsc(
      { compilerOptions: { ...strict, module: 'esnext', moduleResolution: 'node10', lib: ['ES2022', 'DOM'], types: [], noEmit: true }, files: ['app/app.ts'] },
      'node10',
    );
  });
});

/** A browser build: its files (index.html at the top) in `dir`, and the warnings of its bundler. */
interface Build {
  dir: string;
  warnings: string[];
}
const page = (script: string) => `<!doctype html><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,">${script}`;

async function esbuildTarget(format: 'esm' | 'iife'): Promise<Build> {
  const dir = join(root, 'www', `esbuild-${format}`);
  const r = await esbuild.build({
    entryPoints: [join(root, 'dist-browser/browser-main.js')],
    bundle: true,
    minify: true,
    format,
    platform: 'browser',
    outfile: join(dir, 'app.js'),
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'index.html'), page(format === 'esm' ? '<script type="module" src="./app.js"></script>' : '<script src="./app.js"></script>'));
  return { dir, warnings: r.warnings.map((w) => w.text) };
}

async function webpackTarget(mode: 'production' | 'development'): Promise<Build> {
  const { default: webpack } = await import('webpack');
  const dir = join(root, 'www', `webpack-${mode}`);
  const stats = await new Promise<import('webpack').Stats>((ok, fail) => {
    webpack({ mode, context: root, entry: './dist-browser/browser-main.js', output: { path: dir, filename: 'app.js' } }, (e, s) => (e || !s ? fail(e) : ok(s)));
  });
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  assert.deepEqual(info.errors?.map((e) => e.message) ?? [], [], `webpack (${mode}) errors`);
  writeFileSync(join(dir, 'index.html'), page('<script src="./app.js"></script>'));
  return { dir, warnings: info.warnings?.map((w) => w.message) ?? [] };
}

async function viteTarget(): Promise<Build> {
  const vite = await import('vite');
  const src = join(root, 'vite-app');
  cpSync(join(root, 'dist-browser'), src, { recursive: true });
  writeFileSync(join(src, 'index.html'), page('<script type="module" src="./browser-main.js"></script>'));
  const warnings: string[] = [];
  const logger = vite.createLogger('warn');
  logger.warn = (m) => void warnings.push(m);
  logger.warnOnce = (m) => void warnings.push(m);
  const dir = join(root, 'www', 'vite');
  await vite.build({ root: src, configFile: false, logLevel: 'warn', customLogger: logger, build: { outDir: dir, emptyOutDir: true } });
  return { dir, warnings };
}

async function rollupTarget(): Promise<Build> {
  const { rollup } = await import('rollup');
  const { nodeResolve } = await import('@rollup/plugin-node-resolve');
  const warnings: string[] = [];
  // every warning counts, import cycles included (the packages have none)
  const onwarn = (w: import('rollup').RollupLog) => warnings.push(`${w.code}: ${w.message}`);
  const bundle = await rollup({ input: join(root, 'dist-browser/browser-main.js'), plugins: [nodeResolve({ browser: true })], onwarn });
  const dir = join(root, 'www', 'rollup');
  await bundle.write({ file: join(dir, 'app.js'), format: 'es' });
  writeFileSync(join(dir, 'index.html'), page('<script type="module" src="./app.js"></script>'));
  return { dir, warnings };
}

/** No bundler: the page imports dist/ through an import map, served with node_modules. */
async function importMapTarget(): Promise<Build> {
  const map = { imports: Object.fromEntries(PACKAGES.map((p) => [`@ggem/${p}`, `/node_modules/@ggem/${p}/dist/index.js`])) };
  writeFileSync(
    join(root, 'importmap.html'),
    page(`<script type="importmap">${JSON.stringify(map)}</script><script type="module" src="/dist-browser/browser-main.js"></script>`),
  );
  return { dir: root, warnings: [] };
}

describe('consumer matrix: bundlers and the browser', { skip: skipWithoutChromium }, () => {
  let context: BrowserContext;
  const targets: [string, () => Promise<Build>, string?][] = [
    ['esbuild, browser ESM', () => esbuildTarget('esm')],
    ['esbuild, IIFE in a classic script', () => esbuildTarget('iife')],
    ['webpack 5, production', () => webpackTarget('production')],
    ['webpack 5, development', () => webpackTarget('development')],
    ['Vite, default config', viteTarget],
    ['Rollup with node-resolve', rollupTarget],
    ['a module script with an import map over dist/', importMapTarget, '/importmap.html'],
  ];
  let builds: Promise<Build>[];

  before(async () => {
    builds = targets.map(([, build]) => build());
    builds.forEach((b) => b.catch(() => {})); // reported by each target's test
    context = await launchChromium();
  });
  after(async () => context?.close());

  for (const [i, [name, , path]] of targets.entries()) {
    it(`${name}: builds with no warning, loads with no console error, gives the Node numbers`, async () => {
      const build = await builds[i]!;
      assert.deepEqual(build.warnings, [], `${name}: bundler warnings`);
      const server = await serve({ root: build.dir });
      const tab = await context.newPage();
      const errors = collectErrors(tab);
      try {
        await tab.goto(`${server.origin}${path ?? '/'}`);
        await tab.waitForFunction(() => (globalThis as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
        const result = (await tab.evaluate(() => (globalThis as unknown as { __result: Promise<Result> }).__result)) as Result;
        assertSameResult(result, name, 1e-4);
        assert.deepEqual(result.sources, ['bytes', 'blob', 'url'], 'weights loaded from bytes, a Blob and a blob: URL');
        assert.ok(result.imageData, `${name}: the page preprocessed a real ImageData`);
        assert.deepEqual(errors, [], `${name}: page errors`);
      } finally {
        await tab.close();
        await server.close();
      }
    });
  }

  it(`a program that imports only @ggem/tensor bundles under ${TENSOR_BUNDLE_LIMIT / 1024} KB minified, without gpu.js`, async () => {
    const r = await esbuild.build({
      entryPoints: [join(root, 'dist-browser/tensor-only.js')],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const size = r.outputFiles[0]!.contents.length;
    const inputs = Object.keys(r.metafile.inputs);
    assert.ok(size < TENSOR_BUNDLE_LIMIT, `${(size / 1024).toFixed(1)} KB`);
    assert.deepEqual(
      inputs.filter((f) => /gpu\.js|gpujs|parallel\//.test(f)),
      [],
      'no gpu.js backend or Node-only module in the bundle',
    );
    assert.deepEqual(r.warnings, []);
  });
});
