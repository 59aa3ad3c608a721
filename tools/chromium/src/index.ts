/**
 * The browser tests' harness: Debian's chromium (never a downloaded browser) driven by
 * playwright-core, headless, and pages served from 127.0.0.1. Chromium is started with the
 * flags this machine needs (no background networking: the network is closed) and WebGPU
 * on SwiftShader for the gpu.js suite.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** `skip` for a node:test suite: a reason when chromium is not installed (`.ci/run` installs it). */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM) ? false : 'chromium is not installed (apt-get install -y chromium)';

/** A headless chromium with a fresh profile. */
export function launchChromium(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ggem-chromium-')), { executablePath: CHROMIUM, headless: true, args: FLAGS });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.cjs': 'text/javascript',
  '.json': 'application/json',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Files from memory by URL path: `{ '/': ['text/html', '<!doctype html>…'] }`. */
export type Files = Record<string, [type: string, body: string | Uint8Array]>;
/** A folder's files, as a static host serves them. */
export interface Folder {
  root: string;
}
/** What a server answers. */
export type Content = Files | Folder;
const isFolder = (c: Content): c is Folder => typeof (c as Folder).root === 'string';

export interface StaticServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  close(): Promise<void>;
}

/**
 * Serves `content` on 127.0.0.1 (an ephemeral port). A folder is served as a static host
 * would (index.html for a folder, 404 outside it), with the headers that make a page
 * cross-origin isolated when `isolated` is set.
 */
export async function serve(content: Content, options: { isolated?: boolean } = {}): Promise<StaticServer> {
  const headers: Record<string, string> = options.isolated
    ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
    : {};
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const found = lookup(content, path);
    if (found === null) res.writeHead(404, { 'content-type': 'text/plain', ...headers }).end('not found');
    else res.writeHead(200, { 'content-type': found[0], ...headers }).end(found[1]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections(); // the browser keeps its connections alive
      return closed;
    },
  };
}

function lookup(content: Content, path: string): [string, string | Uint8Array] | null {
  if (!isFolder(content)) return content[path] ?? null;
  const root = normalize(content.root);
  let file = normalize(join(root, path));
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!existsSync(file)) return null;
  return [TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file)];
}

/** Console errors and uncaught exceptions of a page, collected from now on. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

/**
 * A test entry (TypeScript) bundled for a page by esbuild, from the packages' sources (the
 * `@ggem/source` condition), as one ES module; `external` imports are left to the page.
 */
export async function bundleSource(entry: string, external: string[] = []): Promise<Uint8Array> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    conditions: ['@ggem/source'],
    external,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.contents;
}

/** A page running a gpu.js test suite, and how to close it (page, browser, server). */
export interface SuitePage {
  page: Page;
  close(): Promise<void>;
}

/**
 * A page with gpu.js's browser build and `entry` (TypeScript, bundled by esbuild from the
 * packages' sources) loaded, once `entry` has set `globalThis[ready]`: how the packages'
 * gpu.js suites run in Chromium. gpu.js stays external (the page loads its own build, as
 * `GPU`).
 */
export async function gpujsSuitePage(entry: string, ready = '__suite'): Promise<SuitePage> {
  const suite = await bundleSource(entry, ['gpu.js']);
  const gpujs = fileURLToPath(import.meta.resolve('gpu.js').replace(/src\/index\.js$/, 'dist/gpu-browser.min.js'));
  const server = await serve({
    '/': ['text/html', '<!doctype html><meta charset="utf-8"><script src="/gpu.js"></script><script type="module" src="/suite.js"></script>'],
    '/suite.js': ['text/javascript', suite],
    '/gpu.js': ['text/javascript', readFileSync(gpujs)],
  });
  const context = await launchChromium();
  const page = await context.newPage();
  await page.goto(`${server.origin}/`);
  await page.waitForFunction((name) => typeof (globalThis as Record<string, unknown>)[name] === 'function', ready);
  return {
    page,
    close: async () => {
      await context.close();
      await server.close();
    },
  };
}
