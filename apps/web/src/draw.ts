/** Small canvas helpers: heatmaps of a grid, a grey image, and a drawing pad. */

/** A colour from the viridis-like ramp for t in [0, 1]. */
function ramp(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((k) => Math.round(stops[i]![k]! + f * (stops[i + 1]![k]! - stops[i]![k]!))) as [number, number, number];
}

/** A canvas of `cols`×`rows` cells drawn `scale` pixels each, values scaled to [lo, hi] (default: their range). */
export function heatmap(values: ArrayLike<number>, cols: number, rows: number, scale: number, range?: [number, number]): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = cols * scale;
  canvas.height = rows * scale;
  const ctx = canvas.getContext('2d')!;
  let [lo, hi] = range ?? [Infinity, -Infinity];
  if (!range) for (let i = 0; i < values.length; i++) [lo, hi] = [Math.min(lo, values[i]!), Math.max(hi, values[i]!)];
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const [R, G, B] = ramp(hi > lo ? (values[r * cols + c]! - lo) / (hi - lo) : 0);
      ctx.fillStyle = `rgb(${R},${G},${B})`;
      ctx.fillRect(c * scale, r * scale, scale, scale);
    }
  return canvas;
}

/** A 28×28 grey image (bytes 0..255) scaled up. */
export function greyImage(bytes: ArrayLike<number>, side: number, scale: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = side * scale;
  const ctx = canvas.getContext('2d')!;
  for (let i = 0; i < side * side; i++) {
    const v = bytes[i]!;
    ctx.fillStyle = `rgb(${v},${v},${v})`;
    ctx.fillRect((i % side) * scale, Math.floor(i / side) * scale, scale, scale);
  }
  return canvas;
}

/** A side×side drawing pad (white strokes on black, as Fashion-MNIST's images); `pixels()` reads it back as bytes. */
export function drawingPad(
  side: number,
  scale: number,
): { canvas: HTMLCanvasElement; clear(): void; pixels(): Uint8Array; set(bytes: ArrayLike<number>): void } {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = side * scale;
  canvas.className = 'pad';
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let down = false;
  const paint = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.arc(((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height, scale * 1.3, 0, 2 * Math.PI);
    ctx.fill();
  };
  canvas.addEventListener('pointerdown', (e) => {
    down = true;
    paint(e);
  });
  canvas.addEventListener('pointermove', (e) => down && paint(e));
  window.addEventListener('pointerup', () => (down = false));
  return {
    canvas,
    clear,
    pixels() {
      const px = new Uint8Array(side * side);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) {
          let s = 0;
          for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) s += data[((y * scale + dy) * canvas.width + x * scale + dx) * 4]!;
          px[y * side + x] = Math.round(s / (scale * scale));
        }
      return px;
    },
    set(bytes) {
      for (let i = 0; i < side * side; i++) {
        const v = bytes[i]!;
        ctx.fillStyle = `rgb(${v},${v},${v})`;
        ctx.fillRect((i % side) * scale, Math.floor(i / side) * scale, scale, scale);
      }
    },
  };
}
