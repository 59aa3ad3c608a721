/** Predict: a test image or a drawing on a 28×28 pad, and the model's top-3 classes. */
import { CLASS_NAMES } from '@ggem/train/core';
import { el, numberInput, panel, type App } from '../app.js';
import { drawingPad } from '../draw.js';

export function predictPanel(app: App): HTMLElement {
  const pad = drawingPad(28, 8);
  const index = numberInput('test image', 0, { id: 'predict-image', min: '0', max: String(app.test.count - 1) });
  const useTest = el('button', { id: 'use-test' }, 'Show test image');
  const clear = el('button', { id: 'clear' }, 'Clear');
  const predict = el('button', { id: 'predict' }, 'Predict');
  const out = el('ol', { id: 'top3' });
  const root = panel(
    'predict',
    'Predict',
    "Draw a garment (light on dark, as Fashion-MNIST's photos are) or show a test image, and the model gives its three likeliest classes. The input is normalised exactly as in training.",
    el('div', { class: 'controls' }, index.wrap, useTest, clear, predict),
    el('div', { class: 'row' }, pad.canvas, out),
  );
  const run = async () => {
    if (!app.model) {
      out.replaceChildren(el('li', {}, 'Train or load a model first.'));
      return;
    }
    const top = await app.api.call('topK', pad.pixels()).catch((e: Error) => {
      out.replaceChildren(el('li', { class: 'message', role: 'alert' }, `Could not predict: ${e.message}`));
      return null;
    });
    if (top === null) return;
    out.replaceChildren(...top.map((r) => el('li', { 'data-label': String(r.label) }, `${CLASS_NAMES[r.label]}: ${(100 * r.prob).toFixed(1)} %`)));
  };
  useTest.onclick = () => {
    const i = Math.min(app.test.count - 1, Math.max(0, Number(index.input.value) | 0));
    pad.set(app.test.images.subarray(i * 784, (i + 1) * 784));
    void run();
  };
  clear.onclick = () => {
    pad.clear();
    out.replaceChildren();
  };
  predict.onclick = () => void run();
  pad.canvas.addEventListener('pointerup', () => void run());
  app.onModel(() => void run());
  return root;
}
