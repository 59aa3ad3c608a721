import { linear, Module, nn, zeros, type Generator, type Tensor } from '@ggem/tensor';

/**
 * The patch embedding: a convolution with kernel = stride = P, computed as patch
 * extraction (a reshape and a permute) and one matrix product. Weights are stored as
 * timm's `patch_embed.proj.weight` `[D, Cin, P, P]` and `.bias` `[D]` (none when `bias` is
 * false: timm's pre-norm models, CLIP).
 */
export class PatchProj extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inChans: number,
    readonly dim: number,
    readonly patch: number,
    generator?: Generator,
    bias = true,
  ) {
    super();
    const o = { requiresGrad: true } as const;
    // PyTorch's Conv2d default: U(±1/√fan_in), fan_in = Cin·P·P
    const bound = 1 / Math.sqrt(inChans * patch * patch);
    this.weight = nn.init.uniform(zeros([dim, inChans, patch, patch], o), -bound, bound, generator);
    this.bias = bias ? nn.init.uniform(zeros([dim], o), -bound, bound, generator) : null;
  }

  /** images `[B, Cin, H, W]` → tokens `[B, (H/P)·(W/P), D]`, patches in row-major order. */
  forward(x: Tensor): Tensor {
    const [b, c, h, w] = x.shape as [number, number, number, number];
    const p = this.patch;
    if (x.rank !== 4 || c !== this.inChans || h % p !== 0 || w % p !== 0) {
      throw new Error(`PatchEmbed: expected images [B, ${this.inChans}, H, W] with H and W multiples of ${p}, got [${x.shape.join(', ')}]`);
    }
    const [hp, wp] = [h / p, w / p];
    // [B, C, Hp, P, Wp, P] → [B, Hp, Wp, C, P, P] → [B, N, C·P·P] (the order of the weight's dims)
    const patches = x
      .reshape([b, c, hp, p, wp, p])
      .permute([0, 2, 4, 1, 3, 5])
      .reshape([b, hp * wp, c * p * p]);
    return linear(patches, this.weight.reshape([this.dim, c * p * p]), this.bias);
  }
}

/**
 * Images to patch tokens. The image must be `imgSize` square unless `dynamic` (timm's
 * dynamic_img_size): then any size whose sides are multiples of the patch (the model
 * resamples its position embeddings to the grid).
 */
export class PatchEmbed extends Module {
  proj: PatchProj;
  readonly dynamic: boolean;

  constructor(
    readonly imgSize: number,
    readonly patchSize: number,
    inChans: number,
    dim: number,
    generator?: Generator,
    o: { bias?: boolean; dynamic?: boolean } = {},
  ) {
    super();
    if (imgSize % patchSize !== 0) throw new Error(`PatchEmbed: image size ${imgSize} is not a multiple of the patch size ${patchSize}`);
    this.proj = new PatchProj(inChans, dim, patchSize, generator, o.bias ?? true);
    this.dynamic = o.dynamic ?? false;
  }

  get numPatches(): number {
    return (this.imgSize / this.patchSize) ** 2;
  }

  /** The side of the patch grid. */
  get gridSize(): number {
    return this.imgSize / this.patchSize;
  }

  forward(x: Tensor): Tensor {
    if (!this.dynamic && (x.shape[2] !== this.imgSize || x.shape[3] !== this.imgSize)) {
      throw new Error(
        `PatchEmbed: expected ${this.imgSize}×${this.imgSize} images, got [${x.shape.join(', ')}]; build the model with that imgSize (loading resamples the position embeddings), or with dynamicImgSize`,
      );
    }
    return this.proj.forward(x);
  }
}
