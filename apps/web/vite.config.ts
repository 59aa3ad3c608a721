import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/**
 * The site: relative paths (any static server, any subfolder), the embedded Fashion-MNIST
 * subset from apps/train/data copied under data/, ES2022 (top-level await in the packages),
 * the worker as an ES module. `npm run web` serves the packages' sources; the build takes
 * them as published (their dist/, built first by turbo).
 */
export default defineConfig(({ command }) => ({
  base: './',
  publicDir: false,
  resolve: command === 'serve' ? { conditions: ['@ggem/source', ...defaultClientConditions] } : {},
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  plugins: [
    {
      name: 'ggem-data',
      // the embedded subset, served in development and copied into the build
      configureServer(server) {
        server.middlewares.use('/data/', (req, res, next) => {
          const file = fileURLToPath(new URL(`../train/data/${(req.url ?? '').replace(/^\//, '').split('?')[0]}`, import.meta.url));
          import('node:fs').then(({ existsSync, readFileSync }) => {
            if (!/\.gz$/.test(file) || !existsSync(file)) return next();
            res.setHeader('content-type', 'application/octet-stream');
            res.end(readFileSync(file));
          });
        });
      },
      async generateBundle() {
        const { readdirSync, readFileSync } = await import('node:fs');
        const dir = fileURLToPath(new URL('../train/data/', import.meta.url));
        for (const f of readdirSync(dir).filter((n) => n.endsWith('.gz')))
          this.emitFile({ type: 'asset', fileName: `data/${f}`, source: readFileSync(dir + f) });
      },
    },
  ],
}));
