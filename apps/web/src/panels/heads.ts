/**
 * Inspect heads: for the loaded model, the attention of every head of a block from a chosen
 * query patch, each head's mean attention distance (the paper's Fig. 5) and the linear CKA
 * between the heads' outputs (Fig. 4), computed with @ggem/vit's analysis functions.
 */
import { el, numberInput, panel, type App } from '../app.js';
import { greyImage, heatmap } from '../draw.js';

export function headsPanel(app: App): HTMLElement {
  const block = numberInput('block', 3, { id: 'heads-block', min: '0' });
  const index = numberInput('test image', 0, { id: 'heads-image', min: '0', max: String(app.test.count - 1) });
  const view = el('div', { class: 'heads' });
  const root = panel(
    'heads',
    'Inspect heads',
    'The paper groups channels by head because heads differ: some attend locally, others globally (mean attention distance), and their outputs are only partly alike (CKA, 1 = the same up to rotation and scale). Click a patch of the image to see where each head of the block attends from it. Distances and CKA are averaged over the first 64 test images.',
    el('div', { class: 'controls' }, block.wrap, index.wrap),
    view,
  );
  let query = 0;

  async function render(): Promise<void> {
    const model = app.model;
    if (!model) {
      view.replaceChildren(el('p', {}, 'Train or load a model first.'));
      return;
    }
    const b = Math.min(model.depth - 1, Math.max(0, Number(block.input.value) | 0));
    block.input.max = String(model.depth - 1);
    const i = Math.min(app.test.count - 1, Math.max(0, Number(index.input.value) | 0));
    const grid = model.grid;
    query = Math.min(query, grid * grid - 1);
    const img = greyImage(app.test.images.subarray(i * 784, (i + 1) * 784), 28, 6);
    img.title = 'click a patch';
    img.addEventListener('click', (e) => {
      const r = img.getBoundingClientRect();
      const cx = Math.floor(((e.clientX - r.left) / r.width) * grid);
      const cy = Math.floor(((e.clientY - r.top) / r.height) * grid);
      query = cy * grid + cx;
      show();
    });
    const [maps, { distance, cka }] = await Promise.all([app.api.call('attention', i, b, query), app.api.call('heads', b)]);
    const h = distance.length;
    const ckaTable = el(
      'table',
      { class: 'cka', id: 'cka' },
      el('tr', {}, el('th', {}, ''), ...cka.map((_, k) => el('th', {}, `h${k + 1}`))),
      ...cka.map((row, k) =>
        el('tr', {}, el('th', {}, `h${k + 1}`), ...row.map((v) => el('td', { style: `background: rgba(33,145,140,${v.toFixed(3)})` }, v.toFixed(2)))),
      ),
    );
    view.replaceChildren(
      el(
        'div',
        { class: 'row' },
        img,
        el('p', {}, `query patch (${query % grid}, ${Math.floor(query / grid)}) of a ${grid}×${grid} grid · block ${b} · model ${model.source}`),
      ),
      el(
        'div',
        { class: 'row' },
        ...maps.map((m, k) => el('figure', {}, heatmap(m, grid, grid, 14), el('figcaption', {}, `head ${k + 1}: ${distance[k]!.toFixed(1)} px`))),
      ),
      el('h3', {}, `Mean attention distance (px), heads 1–${h}`),
      el('p', { id: 'distances' }, distance.map((d) => d.toFixed(2)).join(' · ')),
      el('h3', {}, 'Inter-head CKA'),
      ckaTable,
    );
  }
  /** Renders, and shows a failure of the worker's call in the panel instead of losing it. */
  const show = () =>
    void render().catch((e: Error) => view.replaceChildren(el('p', { class: 'message', role: 'alert' }, `Could not compute this panel: ${e.message}`)));
  block.input.addEventListener('change', () => show());
  index.input.addEventListener('change', () => show());
  app.onModel(() => show());
  show();
  return root;
}
