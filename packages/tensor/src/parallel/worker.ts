import { receiveMessageOnPort } from 'node:worker_threads';
import { setCpuThreads } from '../backend/cpu/engine.js';
import { scope } from '../scope.js';
import { Tensor } from '../tensor.js';
import { dtypeOf } from '../dtype.js';
import { Ctrl, type Job, type Replica, type ReplicaFactory, type WorkerInit, type WorkerMessage } from './protocol.js';
import { noGrad } from '../autograd/engine.js';

/**
 * The body of a data-parallel worker: build the replica, bind its parameters to the shared
 * buffers, then run jobs until told to stop. A job is a shard of the batch: forward, loss,
 * backward, and the gradients copied into this worker's shared buffers; or (`infer`) the
 * replica's output on the shard, posted back. Synchronous throughout (Atomics on the
 * control block, messages read with receiveMessageOnPort), like the main thread's side.
 */
export async function run(init: WorkerInit): Promise<void> {
  const { port } = init;
  const post = (m: WorkerMessage) => port.postMessage(m);
  let replica: Replica;
  try {
    setCpuThreads(1);
    const mod = (await import(init.module)) as Record<string, unknown>;
    const factory = mod[init.exportName] as ReplicaFactory | undefined;
    if (typeof factory !== 'function') throw new Error(`${init.module} has no exported function ${init.exportName}`);
    replica = await factory(init.arg);
    bindParameters(replica.parameters, init, `replica ${init.index}`);
  } catch (e) {
    post({ error: describe(e) });
    return;
  }
  post({ ready: true });

  const { control: ctrl, grads, loss } = init;
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, Ctrl.Seq, seen);
    seen = Atomics.load(ctrl, Ctrl.Seq);
    if (seen < 0) break;
    let msg = receiveMessageOnPort(port);
    while (msg === undefined) msg = receiveMessageOnPort(port); // posted before the notify: already queued
    try {
      // the shard's tensors go back to the pool when it is done, for the next shard
      scope(() => {
        const job = msg.message as Job;
        const inputs = job.inputs.map((s) => new Tensor(s.data, s.shape, s.dtype));
        if (job.kind === 'infer') {
          if (replica.infer === undefined) throw new Error(`${init.module}: the replica has no infer(...inputs)`);
          const out = noGrad(() => replica.infer!(...inputs));
          post({ output: { data: out.data.slice(), shape: [...out.shape], dtype: out.dtype } });
          return;
        }
        for (const p of replica.parameters) p.grad = null;
        const l = replica.loss(...inputs);
        if (l.size !== 1) throw new Error(`the loss must be a scalar, got shape [${l.shape.join(', ')}]`);
        l.backward();
        loss[0] = l.item();
        replica.parameters.forEach((p, i) => {
          if (p.grad === null)
            grads[i]!.fill(0); // a parameter the loss does not reach
          else grads[i]!.set(p.grad.data);
        });
      });
      Atomics.store(ctrl, Ctrl.Failed, 0);
    } catch (e) {
      post({ error: describe(e) });
      Atomics.store(ctrl, Ctrl.Failed, 1);
    }
    Atomics.store(ctrl, Ctrl.Done, seen);
    Atomics.notify(ctrl, Ctrl.Done);
  }
  port.close();
}

/** Points each parameter's storage at its shared array, after checking that the replicas agree. */
function bindParameters(params: Tensor[], init: WorkerInit, who: string): void {
  if (params.length !== init.params.length) {
    throw new Error(`DataParallel: ${who} has ${params.length} parameters, the main replica ${init.params.length}`);
  }
  params.forEach((p, i) => {
    const [values, shape] = [init.params[i]!, init.shapes[i]!];
    const dtype = dtypeOf(values);
    if (p.dtype !== dtype || p.shape.length !== shape.length || p.shape.some((d, j) => d !== shape[j])) {
      throw new Error(`DataParallel: parameter ${i} of ${who} is ${p.dtype} [${p.shape.join(', ')}], the main replica's ${dtype} [${shape.join(', ')}]`);
    }
    p.storage = p.backend.fromArray(values);
  });
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
