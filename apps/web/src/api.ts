/** The page's side of the worker: training messages to listeners, and the panels' calls as promises. */
import type { Calls, FromWorker, ToWorker } from './protocol.js';

export class WorkerApi {
  private readonly worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  private readonly listeners: ((m: FromWorker) => void)[] = [];

  constructor(dataUrl: string) {
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'result') {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new Error(m.error));
        else p?.resolve(m.value);
      } else for (const l of this.listeners) l(m);
    };
    this.send({ type: 'init', dataUrl });
  }

  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  onMessage(listener: (m: FromWorker) => void): void {
    this.listeners.push(listener);
  }

  call<K extends keyof Calls>(fn: K, ...args: Parameters<Calls[K]>): Promise<ReturnType<Calls[K]>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ type: 'call', id, fn, args } as ToWorker);
    });
  }
}
