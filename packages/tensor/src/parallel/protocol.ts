import type { MessagePort } from 'node:worker_threads';
import type { DType, TypedArray } from '../dtype.js';
import type { Tensor } from '../tensor.js';

/**
 * What the main thread and a replica's worker share. The control block is an Int32Array on
 * a SharedArrayBuffer; the main thread bumps `Seq` and notifies, the worker runs the job and
 * stores the same number in `Done`. The job itself (the shard of the batch) and any error
 * travel as messages on a MessagePort, read synchronously on both sides.
 */
export enum Ctrl {
  /** Job number: the main thread increments it to start a job, -1 asks the worker to stop. */
  Seq,
  /** The number of the last job the worker finished. */
  Done,
  /** 0 when the last job succeeded, 1 when it failed (the error is on the port). */
  Failed,
  Count,
}

/** The `replica` export of a replica module: builds one copy of the model from `arg`. */
export type ReplicaFactory<A = unknown> = (arg: A) => Replica | Promise<Replica>;

/**
 * One copy of a model as data parallelism sees it: its trainable parameters (in a fixed
 * order, the same in every copy) and its loss on a shard of the batch. The loss must be a
 * mean over the shard's rows (as `crossEntropy` is), so that weighting each replica's
 * gradient by its share of the rows gives the gradient of the whole batch.
 */
export interface Replica {
  parameters: Tensor[];
  loss(...inputs: Tensor[]): Tensor;
  /**
   * For `DataParallel.infer`: the model's output on a shard of the inputs (one row per
   * input row), with what inference needs (eval mode). Run without the tape.
   */
  infer?(...inputs: Tensor[]): Tensor;
}

/**
 * Everything a worker needs to start: the replica module and the shared arrays (typed
 * arrays on SharedArrayBuffers, which stay shared when posted).
 */
export interface WorkerInit {
  module: string;
  exportName: string;
  arg: unknown;
  /** The replica's index (1, 2, … : the main thread is 0). */
  index: number;
  control: Int32Array;
  /** Every parameter's values, in order. */
  params: TypedArray[];
  /** Their shapes. */
  shapes: number[][];
  /** The worker's gradients, one array per parameter, written after each job. */
  grads: TypedArray[];
  /** The worker's loss on its shard. */
  loss: Float64Array;
  port: MessagePort;
}

/** One input's shard, as posted to a worker. */
export interface ShardInput {
  data: TypedArray;
  shape: number[];
  dtype: DType;
}

/** A job, as posted to a worker: a shard for `step` (the loss and its gradients) or for `infer` (the output). */
export interface Job {
  kind: 'loss' | 'infer';
  inputs: ShardInput[];
}

export type WorkerMessage = { ready: true } | { error: string } | { output: ShardInput };
