/**
 * The page: four panels (Train, Explore p, Inspect heads, Predict) over one model, trained
 * here in a worker or loaded from a safetensors file. The embedded data ships with the site
 * (`data/`); `window.__ggemWeb` lets the browser tests read what the page computed.
 */
import { WorkerApi } from './api.js';
import { App, el } from './app.js';
import { loadSplit } from './data.js';
import { explorePanel } from './panels/explore.js';
import { headsPanel } from './panels/heads.js';
import { predictPanel } from './panels/predict.js';
import { trainPanel } from './panels/train.js';
import './style.css';

const dataUrl = new URL('data/', document.baseURI).href;
const main = document.querySelector('main')!;

async function boot(): Promise<void> {
  const test = await loadSplit(dataUrl, 't10k');
  const app = new App(test, new WorkerApi(dataUrl));
  const train = trainPanel(app);
  const panels: [string, HTMLElement][] = [
    ['Train', train.root],
    ['Explore p', explorePanel(app)],
    ['Inspect heads', headsPanel(app)],
    ['Predict', predictPanel(app)],
  ];
  const tabs = el('nav', { class: 'tabs' });
  const show = (k: number) => {
    panels.forEach(([, p], j) => (p.hidden = j !== k));
    [...tabs.children].forEach((b, j) => b.classList.toggle('active', j === k));
  };
  panels.forEach(([name], k) => {
    const b = el('button', { 'data-tab': name }, name);
    b.onclick = () => show(k);
    tabs.append(b);
  });
  main.replaceChildren(tabs, ...panels.map(([, p]) => p));
  show(0);
  (window as unknown as { __ggemWeb: unknown }).__ggemWeb = {
    losses: train.losses,
    load: (bytes: Uint8Array, name: string) => train.load(bytes, name),
    predictions: (n: number) => app.api.call('predictions', n),
    source: () => app.model?.source ?? null,
  };
}

boot().catch((e: Error) => {
  main.replaceChildren(el('p', { class: 'message', role: 'alert' }, `The page could not start: ${e.message}`));
});
