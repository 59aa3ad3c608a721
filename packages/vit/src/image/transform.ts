import { tensor, type Tensor } from '@ggem/tensor';
import { filters, resizeU8, type FilterName, type U8Image } from './resample.js';

/**
 * What timm's eval transform needs from a model's `pretrained_cfg`: the input size, the
 * share of the resized image the centre crop keeps, the interpolation, and the
 * normalisation. `timmConfig` reads it from a timm `config.json`.
 */
export interface PreprocessConfig {
  /** The model's input side (square), or [height, width]. */
  inputSize: number | [number, number];
  /** The crop keeps this share of the resized image: the shorter side is resized to floor(size / cropPct). Default 0.875. */
  cropPct?: number;
  /** 'center': resize the shorter side, then crop the centre (timm's default); 'squash': resize both sides, then crop. */
  cropMode?: 'center' | 'squash';
  /** Default 'bicubic' (timm's ViTs); Pillow's filters. */
  interpolation?: FilterName;
  /** Per channel, of values in [0, 1]; 3 values for RGB, 1 for a grayscale model. Default ImageNet's. */
  mean?: number[];
  std?: number[];
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/**
 * 8-bit pixels, row-major and interleaved: a browser's `ImageData` (RGBA) as it is, or any
 * buffer of gray, RGB or RGBA pixels (`channels` is inferred from the length when absent).
 * Alpha is dropped, as PIL's `convert('RGB')` that timm's loader applies.
 */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels?: 1 | 3 | 4;
}

/** Python's round(): halves to even (CenterCrop's offsets). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The pixels as an 8-bit image of `channels` (3: RGB, 1: L), converted as PIL's `convert` does. */
function toMode(p: Pixels, channels: 1 | 3): U8Image {
  const { width: w, height: h } = p;
  if (!(Number.isInteger(w) && w > 0 && Number.isInteger(h) && h > 0)) throw new Error(`preprocess: bad image size ${w}×${h}`);
  const have = p.channels ?? p.data.length / (w * h);
  if (have !== 1 && have !== 3 && have !== 4) throw new Error(`preprocess: ${p.data.length} bytes are not a ${w}×${h} image of 1, 3 or 4 channels`);
  if (p.data.length !== w * h * have) throw new Error(`preprocess: ${p.data.length} bytes do not hold a ${w}×${h} image of ${have} channels`);
  const out = new Uint8Array(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    const s = i * have;
    if (have === 1) out.fill(p.data[s]!, i * channels, (i + 1) * channels);
    else if (channels === 3) for (let c = 0; c < 3; c++) out[i * 3 + c] = p.data[s + c]!;
    // PIL's L = R·299/1000 + G·587/1000 + B·114/1000, in fixed point
    else out[i] = (p.data[s]! * 19595 + p.data[s + 1]! * 38470 + p.data[s + 2]! * 7471 + 0x8000) >> 16;
  }
  return { data: out, width: w, height: h, channels };
}

/**
 * timm's eval transform (`transforms_imagenet_eval`, as torchvision runs it on a PIL image)
 * of one image or a batch: resize (the shorter side to floor(size / cropPct), Pillow's
 * resampling, bit for bit), centre crop (offsets rounded as Python rounds), to [0, 1] and
 * normalised by mean and std, as float32 `[B, C, H, W]`. In a browser, pass
 * `ctx.getImageData(0, 0, w, h)`.
 *
 *     const x = preprocess(pixels, { inputSize: 224, cropPct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
 */
export function preprocess(images: Pixels | Pixels[], cfg: PreprocessConfig): Tensor {
  const list = Array.isArray(images) ? images : [images];
  if (list.length === 0) throw new Error('preprocess: no images');
  const mean = cfg.mean ?? IMAGENET_MEAN;
  const std = cfg.std ?? IMAGENET_STD;
  if (mean.length !== std.length || (mean.length !== 1 && mean.length !== 3)) {
    throw new Error(`preprocess: mean and std need 1 (grayscale) or 3 (RGB) values each, got ${mean.length} and ${std.length}`);
  }
  const channels = mean.length as 1 | 3;
  const [outH, outW] = typeof cfg.inputSize === 'number' ? [cfg.inputSize, cfg.inputSize] : cfg.inputSize;
  const cropPct = cfg.cropPct ?? 0.875;
  if (!(cropPct > 0)) throw new Error(`preprocess: cropPct must be > 0, got ${cropPct}`);
  const mode = cfg.cropMode ?? 'center';
  if (mode !== 'center' && mode !== 'squash') throw new Error(`preprocess: crop mode '${mode as string}' is not supported (center, squash)`);
  const filter = filters[cfg.interpolation ?? 'bicubic'];
  if (filter === undefined) throw new Error(`preprocess: interpolation '${cfg.interpolation}' is not supported (${Object.keys(filters).join(', ')})`);
  const scaleH = Math.floor(outH / cropPct);
  const scaleW = Math.floor(outW / cropPct);
  if (mode === 'center' && scaleH !== scaleW)
    throw new Error(`preprocess: centre crops of a non-square input ${outH}×${outW} are not supported; use cropMode 'squash'`);
  const [m32, s32] = [Float32Array.from(mean), Float32Array.from(std)];
  const out = new Float32Array(list.length * channels * outH * outW);
  list.forEach((p, b) => {
    const img = toMode(p, channels);
    let w: number;
    let h: number;
    if (mode === 'squash') [w, h] = [scaleW, scaleH];
    else {
      // torchvision's Resize(int): the shorter side to the size, the longer one in proportion, truncated
      const short = Math.min(img.width, img.height);
      const long = Math.max(img.width, img.height);
      const newLong = Math.trunc((scaleH * long) / short);
      [w, h] = img.width <= img.height ? [scaleH, newLong] : [newLong, scaleH];
    }
    const r = resizeU8(img, w, h, filter);
    // torchvision's CenterCrop: a crop larger than the image pads it with zeros
    const top = h >= outH ? roundHalfEven((h - outH) / 2) : -Math.floor((outH - h) / 2);
    const left = w >= outW ? roundHalfEven((w - outW) / 2) : -Math.floor((outW - w) / 2);
    for (let c = 0; c < channels; c++) {
      const plane = (b * channels + c) * outH * outW;
      for (let y = 0; y < outH; y++) {
        const sy = y + top;
        for (let x = 0; x < outW; x++) {
          const sx = x + left;
          const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? r.data[(sy * w + sx) * channels + c]! : 0;
          // ToTensor then Normalize, in float32 as torch computes them
          out[plane + y * outW + x] = Math.fround(Math.fround(Math.fround(v / 255) - m32[c]!) / s32[c]!);
        }
      }
    }
  });
  return tensor(out, { shape: [list.length, channels, outH, outW] });
}
