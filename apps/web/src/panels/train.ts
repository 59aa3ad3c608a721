/**
 * Train: the small ViT on the embedded subset in a Web Worker (the page stays responsive),
 * with live charts of the loss, the accuracy and every p (uPlot); pause, resume, reset;
 * save the weights as a safetensors download; load a checkpoint (picker or drop).
 */
import { poolingNames, type PoolingName } from '@ggem/pooling';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { el, numberInput, panel, type App } from '../app.js';
import type { BackendChoice, FromWorker, TrainSettings } from '../protocol.js';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export interface TrainPanel {
  root: HTMLElement;
  /** Every step's loss so far (what the charts show). */
  losses: number[];
  /** Loads safetensors bytes as the panels' model; errors are shown, and the current model kept. */
  load(bytes: Uint8Array, name: string): Promise<void>;
}

export function trainPanel(app: App): TrainPanel {
  const { api } = app;
  const send = api.send.bind(api);
  const pooling = el('select', { id: 'pooling' }, ...poolingNames.map((p) => el('option', p === 'ggem' ? { value: p, selected: '' } : { value: p }, p)));
  const groups = numberInput('G', 4, { id: 'groups', min: '1', max: '64' });
  const p = numberInput('initial p', 3, { id: 'p0', min: '0.5', max: '20', step: '0.5' });
  const epochs = numberInput('epochs', 8, { id: 'epochs', min: '1', max: '50' });
  const batch = numberInput('batch', 64, { id: 'batch', min: '1', max: '1024' });
  const seed = numberInput('seed', 0, { id: 'seed', min: '0' });
  const backend = el(
    'select',
    { id: 'backend' },
    el('option', { value: 'cpu' }, 'CPU (WebAssembly)'),
    el('option', { value: 'webgl2' }, 'gpu.js WebGL2'),
    ...('gpu' in navigator ? [el('option', { value: 'webgpu' }, 'gpu.js WebGPU')] : []),
  );
  const start = el('button', { id: 'start' }, 'Train');
  const pause = el('button', { id: 'pause', disabled: '' }, 'Pause');
  const reset = el('button', { id: 'reset', disabled: '' }, 'Reset');
  const save = el('button', { id: 'save', disabled: '' }, 'Save weights');
  const file = el('input', { type: 'file', id: 'load', accept: '.safetensors,application/octet-stream' });
  const status = el('p', { id: 'train-status', class: 'status' }, 'Not started.');
  const message = el('p', { id: 'message', class: 'message', role: 'alert' });
  const charts = el('div', { class: 'charts' });
  const root = panel(
    'train',
    'Train',
    'The paper pools the patch tokens of the last block with a generalized mean whose exponent p is learned per group of channels (GGeM, one group per head by default). Train the small ViT on 10,000 Fashion-MNIST images here, and watch each p move away from its start: p = 1 is average pooling, large p approaches max pooling.',
    el(
      'div',
      { class: 'controls' },
      el('label', {}, 'pooling ', pooling),
      groups.wrap,
      p.wrap,
      epochs.wrap,
      batch.wrap,
      seed.wrap,
      el('label', {}, 'backend ', backend),
    ),
    el('div', { class: 'controls' }, start, pause, reset, save, el('label', { class: 'file' }, 'Load weights ', file)),
    status,
    message,
    charts,
  );

  const losses: number[] = [];
  const steps: number[] = [];
  const accs: number[] = [];
  const pSeries: number[][] = [];
  let lossChart: uPlot | null = null;
  let pChart: uPlot | null = null;
  let state: 'idle' | 'running' | 'paused' | 'done' = 'idle';
  let backendLine = '';

  function makeCharts(groupsCount: number): void {
    charts.replaceChildren();
    const width = Math.min(560, Math.max(320, charts.clientWidth / 2 - 16 || 480));
    lossChart = new uPlot(
      {
        title: 'loss and batch accuracy',
        width,
        height: 220,
        scales: { x: { time: false }, acc: { range: [0, 1] } },
        axes: [{}, { label: 'loss' }, { scale: 'acc', side: 1, label: 'accuracy', grid: { show: false } }],
        series: [{ label: 'step' }, { label: 'loss', stroke: COLOURS[0] }, { label: 'accuracy', stroke: COLOURS[2], scale: 'acc' }],
      },
      [[], [], []],
      charts,
    );
    pChart =
      groupsCount > 0
        ? new uPlot(
            {
              title: 'p of every group',
              width,
              height: 220,
              scales: { x: { time: false } },
              series: [{ label: 'step' }, ...Array.from({ length: groupsCount }, (_, g) => ({ label: `group ${g + 1}`, stroke: COLOURS[g % COLOURS.length] }))],
            },
            [[], ...Array.from({ length: groupsCount }, () => [])],
            charts,
          )
        : null;
  }

  let redraw = 0;
  function schedule(): void {
    if (redraw) return;
    redraw = requestAnimationFrame(() => {
      redraw = 0;
      lossChart?.setData([steps, losses, accs]);
      pChart?.setData([steps, ...pSeries]);
    });
  }

  function setState(s: typeof state): void {
    state = s;
    pause.disabled = s === 'idle' || s === 'done';
    pause.textContent = s === 'paused' ? 'Resume' : 'Pause';
    reset.disabled = s === 'idle';
    save.disabled = s === 'idle';
    start.disabled = s === 'running' || s === 'paused';
  }

  const settings = (): TrainSettings => ({
    pooling: pooling.value as PoolingName,
    groups: Number(groups.input.value),
    p: Number(p.input.value),
    epochs: Number(epochs.input.value),
    batchSize: Number(batch.input.value),
    seed: Number(seed.input.value),
    backend: backend.value as BackendChoice,
  });

  /** The training model's weights into the other panels. */
  async function publish(label: string): Promise<void> {
    try {
      app.setModel(await api.call('publish', label));
    } catch (e) {
      message.textContent = `Could not show the trained model: ${(e as Error).message}`;
    }
  }

  api.onMessage((m: FromWorker) => {
    if (m.type === 'ready') {
      backendLine = `on ${m.backend}`;
      status.textContent = `Training ${backendLine}…`;
    } else if (m.type === 'step') {
      steps.push(m.step);
      losses.push(m.loss);
      accs.push(m.acc);
      m.p.forEach((v, g) => {
        pSeries[g] ??= [];
        pSeries[g].push(v);
      });
      const kernels = m.kernelClasses.length ? `; kernels: ${m.kernelClasses.join(', ')}` : '';
      const fallback = m.fallbacks.length ? `; on the CPU: ${m.fallbacks.join(', ')}` : '';
      status.textContent = `Epoch ${m.epoch}, step ${m.step}: loss ${m.loss.toFixed(4)}, batch accuracy ${(100 * m.acc).toFixed(1)} %, ${Math.round(m.imagesPerSecond)} images/s ${backendLine}${kernels}${fallback}${m.p.length ? `; p ${m.p.map((v) => v.toFixed(2)).join(' ')}` : ''}`;
      status.dataset.step = String(m.step);
      schedule();
    } else if (m.type === 'epoch') {
      message.textContent = `Epoch ${m.epoch}: test accuracy ${(100 * m.testAcc).toFixed(2)} % on 2,000 images.`;
      void publish(`trained here, epoch ${m.epoch}`);
    } else if (m.type === 'done') {
      setState('done');
      status.textContent += ' Done.';
    } else if (m.type === 'paused') {
      void publish(`trained here, step ${steps[steps.length - 1] ?? 0} (paused)`);
    } else if (m.type === 'error') {
      message.textContent = `Training stopped: ${m.message}`;
      setState('idle');
    }
  });

  start.onclick = () => {
    const s = settings();
    for (const a of [steps, losses, accs, ...pSeries]) a.length = 0;
    pSeries.length = 0;
    makeCharts(s.pooling === 'ggem' ? s.groups : s.pooling === 'gem' ? 1 : 0);
    message.textContent = '';
    status.textContent = 'Loading the data and building the model…';
    setState('running');
    send({ type: 'start', settings: s });
  };
  pause.onclick = () => {
    if (state === 'running') {
      send({ type: 'pause' });
      setState('paused');
    } else if (state === 'paused') {
      send({ type: 'resume' });
      setState('running');
    }
  };
  reset.onclick = () => {
    send({ type: 'reset' });
    setState('idle');
    status.textContent = 'Reset.';
  };
  save.onclick = async () => {
    const bytes = await api.call('snapshot');
    const a = el('a', {
      href: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>])),
      download: `vit-${pooling.value}-step${steps.length}.safetensors`,
    });
    a.click();
    URL.revokeObjectURL(a.href);
  };

  async function load(bytes: Uint8Array, name: string): Promise<void> {
    try {
      const info = await api.call('load', bytes, name);
      app.setModel(info);
      message.textContent = `Loaded ${name}: ${info.pooling}${info.pooling === 'ggem' ? ` (G = ${info.groups})` : ''}, patch ${info.patchSize}, depth ${info.depth}.`;
    } catch (e) {
      message.textContent = `Could not load ${name}: ${(e as Error).message}. The current model is kept.`;
    }
  }
  file.onchange = async () => {
    const f = file.files?.[0];
    if (f) await load(new Uint8Array(await f.arrayBuffer()), f.name);
  };
  root.addEventListener('dragover', (e) => e.preventDefault());
  root.addEventListener('drop', async (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) await load(new Uint8Array(await f.arrayBuffer()), f.name);
  });
  return { root, losses, load };
}
