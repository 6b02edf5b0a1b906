/**
 * @tcp-tun/plot: draws a tcp-tun trace (the JSON lines `traceLink()` of `@tcp-tun/net` writes,
 * or `--trace FILE` of the apps) as an SVG: the time-sequence graph with retransmissions and
 * SACKed ranges marked, above panels of cwnd/ssthresh/in flight, smoothed RTT and throughput.
 *
 * What it guarantees: pure TypeScript, no native code and no dependencies beyond the trace
 * format; a malformed line of a trace is skipped (a trace cut by a kill ends mid-line), and a
 * trace without the asked connection is a {@link PlotInputError} with a `code`.
 */
export { renderSvg, throughput, type RenderOptions, type ThroughputBin } from './render.js';
export { buildModel, connections, selectConnection, PlotInputError, type ConnectionSummary, type PlotModel } from './model.js';
export { plotTrace, type PlotTraceOptions, type PlotResult } from './plot.js';
