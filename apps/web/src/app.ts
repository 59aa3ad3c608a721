/** The page's state: the test split (to draw images), the worker, and which model the panels show. */
import type { Split } from '@ggem/train/core';
import type { WorkerApi } from './api.js';
import type { ModelInfo } from './protocol.js';

export class App {
  /** The inspected model's description (null until one is trained or loaded). */
  model: ModelInfo | null = null;
  private readonly listeners: (() => void)[] = [];

  constructor(
    readonly test: Split,
    readonly api: WorkerApi,
  ) {}

  setModel(info: ModelInfo): void {
    this.model = info;
    for (const l of this.listeners) l();
  }

  onModel(listener: () => void): void {
    this.listeners.push(listener);
  }
}

/** An element with attributes and children, in one call. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** A labelled number input. */
export function numberInput(label: string, value: number, attrs: Record<string, string> = {}): { wrap: HTMLLabelElement; input: HTMLInputElement } {
  const input = el('input', { type: 'number', value: String(value), ...attrs });
  return { wrap: el('label', {}, `${label} `, input), input };
}

/** A panel: its section, title and the sentences that say what the paper shows and what to look at, then its contents. */
export function panel(id: string, title: string, explain: string, ...children: (Node | string)[]): HTMLElement {
  return el('section', { id: `panel-${id}`, class: 'panel' }, el('h2', {}, title), el('p', { class: 'explain' }, explain), ...children);
}
