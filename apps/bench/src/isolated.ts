/**
 * Each engine in a process of its own. The parent alternates the engines' runs over IPC;
 * the children sit idle on a message while another engine runs, so that no engine pays
 * for another's heap (on a 2-core machine V8's background GC of a big heap takes the core
 * the data-parallel step wants). A child builds the same workload by name, times each run
 * where it runs (the time leaves out the messaging; a short run is timed after half a second
 * of untimed ones, see `steady`), and reports its own peak resident set.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { isTimed, steady, type Impl, type Timed, type Workload } from './harness.js';

type Request = { cmd: 'setup' | 'run' | 'memory' | 'quit' };
type Reply = { ok: true; value?: unknown } | { ok: false; error: string };

/**
 * An engine run by a child process: `script` started with `args` (and this process's node
 * flags) must call `serve` with the same workload and engine.
 */
export function isolated(engine: string, script: string, args: string[], threads?: number): Impl {
  let child: ChildProcess | undefined;
  let waiting: { resolve(v: unknown): void; reject(e: Error): void } | undefined;
  const ask = <T>(cmd: Request['cmd']): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (child === undefined) return reject(new Error(`the ${engine} process is not running`));
      waiting = { resolve: resolve as (v: unknown) => void, reject };
      child.send({ cmd } satisfies Request);
    });
  return {
    engine,
    ...(threads !== undefined ? { threads } : {}),
    async setup() {
      child = fork(script, args, { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m: Reply) => {
        const w = waiting;
        waiting = undefined;
        if (m.ok) w?.resolve(m.value);
        else w?.reject(new Error(m.error));
      });
      child.on('exit', (code, signal) => {
        child = undefined;
        waiting?.reject(new Error(`the ${engine} process exited (${signal ?? `code ${code}`})`));
        waiting = undefined;
      });
      await ask('setup');
      return () => ask<Timed>('run');
    },
    peakMB: () => ask<number>('memory'),
    async teardown() {
      if (child !== undefined) await ask('quit');
    },
  };
}

/** The child's side: runs `engine` of `w` on the parent's requests, then exits on 'quit'. */
export function serve(w: Workload, engine: string): void {
  const impl = w.impls.find((i) => i.engine === engine);
  let run: (() => Promise<Timed>) | undefined;
  const reply = (r: Reply, then?: () => void) => process.send!(r, undefined, undefined, then);
  process.on('message', async ({ cmd }: Request) => {
    try {
      if (impl === undefined) throw new Error(`bench: ${w.name} has no engine '${engine}'`);
      if (cmd === 'setup') {
        const fn = await impl.setup();
        run = steady(async () => {
          const t0 = performance.now();
          const out = await fn();
          return isTimed(out) ? out : { result: out, ms: performance.now() - t0 };
        });
        return reply({ ok: true });
      }
      if (cmd === 'run') return reply({ ok: true, value: await run!() });
      if (cmd === 'memory') return reply({ ok: true, value: impl.peakMB ? await impl.peakMB() : process.resourceUsage().maxRSS / 1024 });
      await impl.teardown?.();
      reply({ ok: true }, () => process.exit(0));
    } catch (e) {
      reply({ ok: false, error: (e as Error).message });
    }
  });
}
