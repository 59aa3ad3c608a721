import * as vega from 'vega';
import * as vl from 'vega-lite';

/** Renders a Vega-Lite spec to an SVG string, headless (no canvas, no browser). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  return new vega.View(vega.parse(compiled), { renderer: 'none' }).toSVG();
}

export interface CurvePoint {
  pooling: string;
  step: number;
  value: number;
  series?: string;
}

/** A line chart of value against step, one line per pooling (and series, when given). */
export function lineChart(title: string, yTitle: string, points: CurvePoint[], opts: { xTitle?: string; zeroBased?: boolean } = {}): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 520,
    height: 300,
    data: { values: points },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: opts.xTitle ?? 'step' },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: opts.zeroBased ?? false } },
      color: { field: 'pooling', type: 'nominal', title: 'pooling' },
      ...(points.some((p) => p.series !== undefined) ? { detail: { field: 'series', type: 'nominal' } } : {}),
    },
  } as vl.TopLevelSpec;
}

/** A moving average over a window, for noisy per-step losses. */
export function smooth(values: number[], window: number): number[] {
  const out: number[] = [];
  let s = 0;
  values.forEach((v, i) => {
    s += v;
    if (i >= window) s -= values[i - window]!;
    out.push(s / Math.min(i + 1, window));
  });
  return out;
}
