/** Element types. Floats carry values and gradients; int32 carries labels and indices. */
export type DType = 'float32' | 'float64' | 'int32';
export type FloatDType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array | Int32Array;

const ARRAYS: Record<DType, { new (lengthOrBuffer: number | ArrayBufferLike): TypedArray; BYTES_PER_ELEMENT: number }> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
};

/** A zeroed array of `size` elements; `shared`: on a SharedArrayBuffer (worker threads see the same memory). */
export function allocate(dtype: DType, size: number, shared = false): TypedArray {
  const A = ARRAYS[dtype];
  try {
    return shared ? new A(new SharedArrayBuffer(size * A.BYTES_PER_ELEMENT)) : new A(size);
  } catch (e) {
    throw new RangeError(`cannot allocate ${size} ${dtype} elements (${((size * A.BYTES_PER_ELEMENT) / 2 ** 30).toPrecision(3)} GiB): ${(e as Error).message}`);
  }
}

/** The dtype a typed array holds, or null for an array type tensors do not use (Int16Array, Uint8Array, ...). */
export function dtypeOfArray(data: ArrayBufferView): DType | null {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  return null;
}

export function dtypeOf(data: TypedArray): DType {
  return dtypeOfArray(data)!;
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
