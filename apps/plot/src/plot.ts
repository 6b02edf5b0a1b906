/** Trace text in, SVG text out: what the command does, as a function. */
import { parseTrace } from '@tcp-tun/net';
import { buildModel, type PlotModel } from './model.js';
import { renderSvg, type RenderOptions } from './render.js';

/** Options of {@link plotTrace}. */
export interface PlotTraceOptions extends RenderOptions {
  /** Connection number, "local-remote" 4-tuple or one endpoint (default: the one with most bytes). */
  readonly conn?: string | undefined;
  /** Which direction's data to draw (default: the one that carried more). */
  readonly direction?: 'out' | 'in' | undefined;
}

/** What {@link plotTrace} returns. */
export interface PlotResult {
  /** The SVG document. */
  readonly svg: string;
  /** What it draws. */
  readonly model: PlotModel;
}

/** Parses a JSON-lines trace and renders the chosen connection; returns the SVG and the model drawn. */
export function plotTrace(traceText: string, options: PlotTraceOptions = {}): PlotResult {
  const model = buildModel(parseTrace(traceText), options.conn, options.direction);
  return { svg: renderSvg(model, options), model };
}
