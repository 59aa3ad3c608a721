import { getBackend } from './backend/backend.js';
import { allocate, type DType } from './dtype.js';
import { fmt, sizeOf, stridesOf } from './shape.js';
import { Tensor } from './tensor.js';

/** The fields of a scijs `ndarray` this package reads: any strided view, negative strides included. */
export interface NdarrayLike {
  data: ArrayLike<number>;
  shape: readonly number[];
  stride: readonly number[];
  offset: number;
  dtype?: string;
}

/** The `ndarray` package's constructor, passed in so that this package does not depend on it. */
export type NdarrayFactory<T> = (data: Float32Array | Float64Array | Int32Array, shape: number[], stride?: number[], offset?: number) => T;

/**
 * Copies an ndarray (a view with any strides and offset) into a new contiguous tensor.
 * float64 and int32 ndarrays keep their dtype; anything else becomes float32 unless asked.
 *
 *     fromNdarray(ndarray(new Float32Array(6), [2, 3]).transpose(1, 0))  // shape [3, 2]
 */
export function fromNdarray(nd: NdarrayLike, options: { dtype?: DType } = {}): Tensor {
  const { shape, stride, offset, data } = nd;
  if (stride.length !== shape.length) throw new Error(`fromNdarray: stride [${stride.join(', ')}] does not match shape ${fmt(shape)}`);
  const dtype = options.dtype ?? (nd.dtype === 'float64' ? 'float64' : nd.dtype === 'int32' ? 'int32' : 'float32');
  if (sizeOf(shape) > 0) {
    // the view's extreme offsets must lie inside the data
    let lo = offset;
    let hi = offset;
    shape.forEach((d, i) => {
      if (stride[i]! < 0) lo += (d - 1) * stride[i]!;
      else hi += (d - 1) * stride[i]!;
    });
    if (lo < 0 || hi >= data.length) {
      throw new Error(
        `fromNdarray: the view (shape ${fmt(shape)}, stride [${stride.join(', ')}], offset ${offset}) reaches index ${lo < 0 ? lo : hi}, outside the data (length ${data.length})`,
      );
    }
  }
  const be = getBackend();
  const source = allocate(dtype, data.length);
  source.set(data as ArrayLike<number>);
  return new Tensor(be.strided(be.fromArray(source), { shape, strides: stride, offset }, dtype), shape, dtype, be);
}

/**
 * A contiguous ndarray over a copy of the tensor's values, built with the `ndarray`
 * constructor you pass: `toNdarray(t, ndarray)`.
 */
export function toNdarray<T>(t: Tensor, ndarray: NdarrayFactory<T>): T {
  return ndarray(t.data.slice(), [...t.shape], stridesOf(t.shape), 0);
}
