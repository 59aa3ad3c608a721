/**
 * Explore p: the last block's patch tokens of one test image as per-channel maps, grouped as
 * GGeM groups them (the paper's Fig. 2); a p slider per group with the group's pooled value
 * between its average and its maximum, and the gradient of the pooled value over the patch
 * grid, which concentrates on the strongest patches as p grows (§3.4, Fig. 3).
 */
import { CLASS_NAMES } from '@ggem/train/core';
import { el, numberInput, panel, type App } from '../app.js';
import { greyImage, heatmap } from '../draw.js';

export function explorePanel(app: App): HTMLElement {
  const index = numberInput('test image', 0, { id: 'explore-image', min: '0', max: String(app.test.count - 1) });
  const view = el('div', { class: 'explore' });
  const root = panel(
    'explore',
    'Explore p',
    "Each small map is one channel of the last block's patch tokens for this image; each row is one group of channels, which share a p. Move a group's p: at p = 1 its pooled value is the tokens' average, and it climbs toward their maximum as p grows. The heatmap on the right of each slider is the gradient of that pooled value with respect to each patch: it spreads over the object at small p and concentrates on a few patches at large p, which is why the paper learns p per group instead of fixing it.",
    el('div', { class: 'controls' }, index.wrap),
    view,
  );
  let ps: number[] = [];

  async function render(): Promise<void> {
    if (!app.model) {
      view.replaceChildren(el('p', {}, 'Train or load a model first.'));
      return;
    }
    const i = Math.min(app.test.count - 1, Math.max(0, Number(index.input.value) | 0));
    const t = await app.api.call('tokens', i);
    if (ps.length !== t.groups) ps = t.p.slice();
    const per = Math.ceil(t.c / t.groups);
    const head = el(
      'div',
      { class: 'row' },
      greyImage(app.test.images.subarray(i * 784, (i + 1) * 784), 28, 4),
      el('p', {}, `${CLASS_NAMES[app.test.labels[i]!]} · model ${app.model.source}`),
    );
    const updates: ((r: { avg: number; pooled: number; max: number; grad: number[] }) => void)[] = [];
    let busy = false;
    let again = false;
    /** One call for every group's readout; slider moves during a call are taken by the next. */
    const refresh = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      const r = await app.api.call('pooled', i, ps);
      busy = false;
      updates.forEach((u, k) => u(r[k]!));
      if (again) {
        again = false;
        void refresh();
      }
    };
    const rows = Array.from({ length: t.groups }, (_, k) => {
      const maps = el('div', { class: 'maps' });
      for (let j = k * per; j < Math.min(t.c, (k + 1) * per); j++)
        maps.append(
          heatmap(
            Array.from({ length: t.n }, (_, q) => t.data[q * t.c + j]!),
            t.grid,
            t.grid,
            4,
          ),
        );
      const slider = el('input', { type: 'range', min: '1', max: '20', step: '0.1', value: ps[k]!.toFixed(1), class: 'p-slider', 'data-group': String(k) });
      const readout = el('span', { class: 'pooled', 'data-group': String(k) });
      const grad = el('div', { class: 'grad' });
      updates[k] = (r) => {
        readout.textContent = `p ${ps[k]!.toFixed(1)}: average ${r.avg.toFixed(4)} ≤ pooled ${r.pooled.toFixed(4)} ≤ max ${r.max.toFixed(4)}`;
        readout.dataset.pooled = String(r.pooled);
        readout.dataset.p = String(ps[k]);
        grad.replaceChildren(heatmap(r.grad, t.grid, t.grid, 12));
      };
      slider.addEventListener('input', () => {
        ps[k] = Number(slider.value);
        void refresh();
      });
      return el(
        'div',
        { class: 'group' },
        el('h3', {}, `group ${k + 1} (channels ${k * per}–${Math.min(t.c, (k + 1) * per) - 1})`),
        maps,
        el('div', { class: 'row' }, slider, readout, grad),
      );
    });
    view.replaceChildren(head, ...rows);
    await refresh();
  }
  /** Renders, and shows a failure of the worker's call in the panel instead of losing it. */
  const show = () =>
    void render().catch((e: Error) => view.replaceChildren(el('p', { class: 'message', role: 'alert' }, `Could not compute this panel: ${e.message}`)));
  index.input.addEventListener('change', show);
  app.onModel(() => {
    ps = [];
    show();
  });
  show();
  return root;
}
