/**
 * Renders a {@link PlotModel} as one SVG document: the time-sequence graph (Stevens' and
 * tcptrace's, as Wireshark draws it: each data segment a vertical bar over the sequence range it
 * carried, the cumulative ACK as a step line under them, the receive window's right edge
 * (ACK + window) above, retransmissions in red and SACKed ranges in violet) above three panels
 * over the same time axis: cwnd with ssthresh and bytes in flight, smoothed RTT, and throughput
 * (octets newly acknowledged per time bin).
 *
 * Elements carry stable ids (`segments`, `retransmissions`, `sacks`, `ack-line`, `rwnd-line`,
 * `panel-cwnd`, `cwnd-line`, `ssthresh-line`, `inflight-line`, `panel-rtt`, `srtt-line`,
 * `panel-throughput`, `throughput-line`) and each retransmission is one `class="retx"` path, so
 * tests and scripts can find the series.
 */
import type { TraceInfoRecord } from '@tcp-tun/net';
import type { PlotModel } from './model.js';
import { bytesLabel, el, escapeXml, n, steps, text, ticks } from './svg.js';

/** Options of {@link renderSvg}. */
export interface RenderOptions {
  /** Width of the picture in pixels (default 1100). */
  readonly width?: number;
  /** Title over the graph (default: the connection's 4-tuple and direction). */
  readonly title?: string;
  /** Time bins of the throughput panel (default 60). */
  readonly throughputBins?: number;
}

const LEFT = 84;
const RIGHT = 24;
const TSG_TOP = 64;
const TSG_HEIGHT = 420;
const PANEL_HEIGHT = 130;
const GAP = 46;
const COLORS = {
  data: '#1f4e9c',
  retx: '#d62728',
  sack: '#9b3fc6',
  ack: '#2ca02c',
  rwnd: '#c9a227',
  cwnd: '#1f4e9c',
  ssthresh: '#d62728',
  inflight: '#8c8c8c',
  srtt: '#e07b00',
  throughput: '#2a8c8c',
  grid: '#e6e6e6',
  axis: '#444',
};

interface Frame {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
  readonly t0: number;
  readonly t1: number;
  readonly lo: number;
  readonly hi: number;
}

const xOf = (f: Frame, t: number): number => f.x0 + ((t - f.t0) / (f.t1 - f.t0 || 1)) * f.w;
const yOf = (f: Frame, v: number): number => f.y0 + f.h - ((v - f.lo) / (f.hi - f.lo || 1)) * f.h;

/** Grid, axes, tick labels and the panel's title; ticks in time are labelled in seconds. */
function axes(f: Frame, title: string, yLabel: (v: number) => string): string {
  const parts: string[] = [];
  // Time ticks at round offsets from the start; octet ticks at round multiples of K or M.
  const xt = ticks(0, f.t1 - f.t0, 10).map((v) => f.t0 + v);
  const unit = yLabel === bytesLabel ? (f.hi >= 4 * 2 ** 20 ? 2 ** 20 : f.hi >= 4 * 1024 ? 1024 : 1) : 1;
  const yt = ticks(f.lo / unit, f.hi / unit, 5).map((v) => v * unit);
  let grid = '';
  for (const t of xt) grid += `M${n(xOf(f, t))} ${n(f.y0)}V${n(f.y0 + f.h)}`;
  for (const v of yt) grid += `M${n(f.x0)} ${n(yOf(f, v))}H${n(f.x0 + f.w)}`;
  parts.push(el('path', { d: grid, stroke: COLORS.grid, 'stroke-width': 1, fill: 'none' }));
  parts.push(el('rect', { x: f.x0, y: f.y0, width: f.w, height: f.h, fill: 'none', stroke: COLORS.axis, 'stroke-width': 1 }));
  for (const t of xt) parts.push(text(xOf(f, t), f.y0 + f.h + 14, `${+((t - f.t0) / 1000).toFixed(3)}`, { 'text-anchor': 'middle' }));
  for (const v of yt) parts.push(text(f.x0 - 6, yOf(f, v) + 4, yLabel(v), { 'text-anchor': 'end' }));
  parts.push(text(f.x0, f.y0 - 8, title, { 'font-weight': 'bold' }));
  return parts.join('');
}

function legend(x: number, y: number, items: readonly (readonly [string, string])[]): string {
  const parts: string[] = [];
  let at = x;
  for (const [label, color] of items) {
    parts.push(el('rect', { x: at, y: y - 9, width: 14, height: 4, fill: color }));
    parts.push(text(at + 18, y - 4, label));
    at += 30 + label.length * 6.5;
  }
  return el('g', { class: 'legend' }, parts);
}

function spanOf(s: { len: number; flags: string }): number {
  return s.len + (s.flags.includes('S') ? 1 : 0) + (s.flags.includes('F') ? 1 : 0);
}

function timeSequenceGraph(m: PlotModel, f0: Omit<Frame, 'lo' | 'hi'>): string {
  let hi = 1;
  let ackMax = 0;
  for (const s of m.data) hi = Math.max(hi, s.seq + spanOf(s));
  for (const a of m.acks) hi = Math.max(hi, a.ack! + a.win);
  const f: Frame = { ...f0, lo: 0, hi: hi * 1.02 };
  const parts: string[] = [axes(f, `time-sequence graph (${m.direction === 'out' ? 'sent by this stack' : 'sent by the peer'})`, bytesLabel)];
  // Window edge and ACK line first, so segments are drawn over them.
  const ackPts: [number, number][] = [];
  const winPts: [number, number][] = [];
  const sackParts: string[] = [];
  for (const a of m.acks) {
    ackMax = Math.max(ackMax, a.ack!);
    const x = xOf(f, a.t);
    ackPts.push([x, yOf(f, ackMax)]);
    winPts.push([x, yOf(f, a.ack! + a.win)]);
    for (const [l, r] of a.sack ?? []) {
      sackParts.push(el('path', { class: 'sack', d: `M${n(x + 1.5)} ${n(yOf(f, l))}V${n(yOf(f, r))}` }));
    }
  }
  parts.push(el('path', { id: 'rwnd-line', d: steps(winPts), fill: 'none', stroke: COLORS.rwnd, 'stroke-width': 1.2 }));
  parts.push(el('path', { id: 'ack-line', d: steps(ackPts), fill: 'none', stroke: COLORS.ack, 'stroke-width': 1.2 }));
  let d = '';
  const retx: string[] = [];
  for (const s of m.data) {
    const x = xOf(f, s.t);
    const y1 = yOf(f, s.seq);
    const y2 = yOf(f, s.seq + spanOf(s));
    // tcptrace's I-beam: a bar over the range with a short cross-bar at each end.
    const beam = `M${n(x - 2)} ${n(y1)}H${n(x + 2)}M${n(x)} ${n(y1)}V${n(y2)}M${n(x - 2)} ${n(y2)}H${n(x + 2)}`;
    if (s.retx === true) retx.push(el('path', { class: 'retx', d: beam }));
    else d += beam;
  }
  parts.push(el('path', { id: 'segments', d, fill: 'none', stroke: COLORS.data, 'stroke-width': 1 }));
  parts.push(el('g', { id: 'sacks', stroke: COLORS.sack, 'stroke-width': 2.5, 'stroke-opacity': 0.7 }, sackParts));
  parts.push(el('g', { id: 'retransmissions', stroke: COLORS.retx, 'stroke-width': 1.6, fill: 'none' }, retx));
  return el('g', { id: 'tsg' }, parts);
}

/** Points of one numeric field of the samples; a null or missing value breaks the line. */
function series(f: Frame, info: readonly TraceInfoRecord[], pick: (i: TraceInfoRecord) => number | null | undefined): string {
  let d = '';
  let pen = false;
  let last: number | undefined;
  for (const i of info) {
    const v = pick(i);
    if (v === null || v === undefined) {
      pen = false;
      continue;
    }
    const x = xOf(f, i.t);
    const y = yOf(f, v);
    // Samples are held until the next one (they are taken on change), so draw steps.
    d += pen ? `H${n(x)}V${n(y)}` : `M${n(x)} ${n(y)}`;
    pen = true;
    last = y;
  }
  if (pen && last !== undefined) d += `H${n(f.x0 + f.w)}`;
  return d;
}

function maxOf(info: readonly TraceInfoRecord[], pick: (i: TraceInfoRecord) => number | null | undefined): number {
  let m = 0;
  for (const i of info) {
    const v = pick(i);
    if (typeof v === 'number' && Number.isFinite(v)) m = Math.max(m, v);
  }
  return m;
}

function noData(f: Frame, what: string): string {
  return text(f.x0 + f.w / 2, f.y0 + f.h / 2, what, { 'text-anchor': 'middle', fill: '#888' });
}

function cwndPanel(m: PlotModel, f0: Omit<Frame, 'lo' | 'hi'>): string {
  const info = m.info;
  const hasSs = info.some((i) => typeof i.ssthresh === 'number');
  const hi = Math.max(maxOf(info, (i) => i.cwnd), maxOf(info, (i) => i.inFlight), hasSs ? Math.min(maxOf(info, (i) => i.ssthresh), 4 * maxOf(info, (i) => i.cwnd)) : 0, 1);
  const f: Frame = { ...f0, lo: 0, hi: hi * 1.05 };
  const parts = [axes(f, `cwnd${hasSs ? ', ssthresh' : ''} and bytes in flight of this stack (octets)`, bytesLabel)];
  if (info.length === 0) parts.push(noData(f, 'no engine samples in the trace (tracer without a stack)'));
  parts.push(el('path', { id: 'inflight-line', d: series(f, info, (i) => i.inFlight), fill: 'none', stroke: COLORS.inflight, 'stroke-width': 1 }));
  parts.push(el('path', { id: 'cwnd-line', d: series(f, info, (i) => i.cwnd), fill: 'none', stroke: COLORS.cwnd, 'stroke-width': 1.5 }));
  // An ssthresh above the panel (the initial "infinite" one) is left out, not clipped.
  parts.push(el('path', { id: 'ssthresh-line', d: series(f, info, (i) => (typeof i.ssthresh === 'number' && i.ssthresh <= f.hi ? i.ssthresh : null)), fill: 'none', stroke: COLORS.ssthresh, 'stroke-width': 1.2, 'stroke-dasharray': '5 3' }));
  return el('g', { id: 'panel-cwnd' }, parts);
}

function rttPanel(m: PlotModel, f0: Omit<Frame, 'lo' | 'hi'>): string {
  const hi = Math.max(maxOf(m.info, (i) => i.srttMs), 0.001);
  const f: Frame = { ...f0, lo: 0, hi: hi * 1.1 };
  const parts = [axes(f, 'smoothed RTT of this stack (ms)', (v) => `${+v.toFixed(3)}`)];
  if (!m.info.some((i) => i.srttMs !== undefined)) parts.push(noData(f, 'no RTT samples'));
  parts.push(el('path', { id: 'srtt-line', d: series(f, m.info, (i) => i.srttMs), fill: 'none', stroke: COLORS.srtt, 'stroke-width': 1.5 }));
  return el('g', { id: 'panel-rtt' }, parts);
}

/** One bin of {@link throughput}. */
export interface ThroughputBin {
  /** Start of the bin, ms on the trace's clock. */
  readonly t: number;
  /** Octets newly acknowledged in the bin, as Mbit/s. */
  readonly mbps: number;
}

/** Octets newly acknowledged in each of `bins` equal time bins, as Mbit/s. */
export function throughput(m: PlotModel, bins: number): ThroughputBin[] {
  const width = (m.t1 - m.t0) / bins || 1;
  const acked = new Array<number>(bins).fill(0);
  let ackMax: number | undefined;
  for (const a of m.acks) {
    const ack = a.ack!;
    if (ackMax !== undefined && ack > ackMax) {
      const bin = Math.min(bins - 1, Math.max(0, Math.floor((a.t - m.t0) / width)));
      acked[bin]! += ack - ackMax;
    }
    if (ackMax === undefined || ack > ackMax) ackMax = ack;
  }
  return acked.map((octets, i) => ({ t: m.t0 + i * width, mbps: (octets * 8) / (width * 1000) }));
}

function throughputPanel(m: PlotModel, f0: Omit<Frame, 'lo' | 'hi'>, bins: number): string {
  const points = throughput(m, bins);
  const hi = Math.max(...points.map((p) => p.mbps), 0.001);
  const f: Frame = { ...f0, lo: 0, hi: hi * 1.1 };
  const parts = [axes(f, 'throughput: octets newly acknowledged (Mbit/s)', (v) => `${+v.toFixed(2)}`)];
  const pts: [number, number][] = points.map((p) => [xOf(f, p.t), yOf(f, p.mbps)]);
  pts.push([f.x0 + f.w, pts.at(-1)?.[1] ?? yOf(f, 0)]);
  parts.push(el('path', { id: 'throughput-line', d: steps(pts), fill: 'none', stroke: COLORS.throughput, 'stroke-width': 1.5 }));
  return el('g', { id: 'panel-throughput' }, parts);
}

/** The whole picture as an SVG document (a string). */
export function renderSvg(m: PlotModel, options: RenderOptions = {}): string {
  const width = options.width ?? 1100;
  const w = width - LEFT - RIGHT;
  const base = { x0: LEFT, w, t0: m.t0, t1: m.t1 > m.t0 ? m.t1 : m.t0 + 1 };
  const panelTop = (k: number): number => TSG_TOP + TSG_HEIGHT + GAP + k * (PANEL_HEIGHT + GAP);
  const height = panelTop(3) + 10;
  const c = m.connection;
  const title = options.title ?? `connection ${c.conn}: ${c.local} → ${c.remote}, data ${m.direction === 'out' ? 'sent' : 'received'} by this stack`;
  const summary = `${m.data.length} data segments, ${m.retransmissions} retransmitted, ${m.acks.length} ACKs; time in seconds from the connection's first record`;
  const body = [
    el('rect', { width: '100%', height: '100%', fill: 'white' }),
    text(LEFT, 22, title, { 'font-size': 15, 'font-weight': 'bold' }),
    text(LEFT, 40, summary, { fill: '#555' }),
    legend(LEFT + 2, 58, [
      ['data segment', COLORS.data],
      ['retransmission', COLORS.retx],
      ['SACKed', COLORS.sack],
      ['ACK', COLORS.ack],
      ['ACK + receive window', COLORS.rwnd],
      ['cwnd', COLORS.cwnd],
      ['ssthresh', COLORS.ssthresh],
      ['in flight', COLORS.inflight],
    ]),
    timeSequenceGraph(m, { ...base, y0: TSG_TOP + 14, h: TSG_HEIGHT - 14 }),
    cwndPanel(m, { ...base, y0: panelTop(0), h: PANEL_HEIGHT }),
    rttPanel(m, { ...base, y0: panelTop(1), h: PANEL_HEIGHT }),
    throughputPanel(m, { ...base, y0: panelTop(2), h: PANEL_HEIGHT }, options.throughputBins ?? 60),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>\n${el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      'font-family': 'sans-serif',
      'font-size': 11,
      'data-conn': c.conn,
      'data-retransmissions': m.retransmissions,
    },
    [el('title', {}, escapeXml(title)), ...body],
  )}\n`;
}
