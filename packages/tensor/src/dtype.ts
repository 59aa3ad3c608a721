/** Element types. Floats carry values and gradients; int32 carries labels and indices. */
export type DType = 'float32' | 'float64' | 'int32';
export type FloatDType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array | Int32Array;

const ARRAYS: Record<DType, { new (lengthOrBuffer: number | ArrayBufferLike): TypedArray; BYTES_PER_ELEMENT: number }> = { float32: Float32Array, float64: Float64Array, int32: Int32Array };

/** A zeroed array of `size` elements; `shared`: on a SharedArrayBuffer (worker threads see the same memory). */
export function allocate(dtype: DType, size: number, shared = false): TypedArray {
  const A = ARRAYS[dtype];
  return shared ? new A(new SharedArrayBuffer(size * A.BYTES_PER_ELEMENT)) : new A(size);
}

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  return 'int32';
}

/** The dtype of a binary op's result: float64 wins over float32, any float over int32. */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float64' || b === 'float64') return 'float64';
  return 'float32';
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype !== 'int32';
}
