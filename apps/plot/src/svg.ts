/**
 * A very small SVG writer: elements as strings, attributes escaped, numbers rounded so a plot of
 * thousands of segments stays a few hundred kilobytes. No DOM, no dependencies.
 */

/** Attribute values; `undefined` leaves the attribute out. */
export type Attributes = Readonly<Record<string, string | number | undefined>>;

/** Escapes text for an attribute value or element content (XML 1.0 §2.4). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** A coordinate with at most one decimal (a tenth of a pixel is below what anyone sees). */
export function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** One element: `children` are already-built markup; a string child is NOT escaped (use `text`). */
export function el(name: string, attributes: Attributes = {}, children: readonly string[] | string = []): string {
  let attrs = '';
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined) continue;
    attrs += ` ${k}="${escapeXml(typeof v === 'number' ? n(v) : v)}"`;
  }
  const body = typeof children === 'string' ? children : children.join('');
  return body === '' ? `<${name}${attrs}/>` : `<${name}${attrs}>${body}</${name}>`;
}

/** A `<text>` element with escaped content. */
export function text(x: number, y: number, content: string, attributes: Attributes = {}): string {
  return el('text', { x, y, ...attributes }, escapeXml(content));
}

/** A path `d` through points as one polyline ("M x y L x y ..."); empty for no points. */
export function polyline(points: readonly (readonly [number, number])[]): string {
  let d = '';
  for (const [i, [x, y]] of points.entries()) d += `${i === 0 ? 'M' : 'L'}${n(x)} ${n(y)}`;
  return d;
}

/** A path `d` of a step function: holds each value until the next point's time. */
export function steps(points: readonly (readonly [number, number])[]): string {
  let d = '';
  for (const [i, [x, y]] of points.entries()) d += i === 0 ? `M${n(x)} ${n(y)}` : `H${n(x)}V${n(y)}`;
  return d;
}

/** Round "nice" tick values (1, 2, 5 × 10^k) covering [lo, hi], about `count` of them. */
export function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

/** 1536 → "1.5K", 2_500_000 → "2.4M" (binary multiples, as sequence offsets are octets). */
export function bytesLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1 << 30) return `${+(v / 2 ** 30).toFixed(1)}G`;
  if (a >= 1 << 20) return `${+(v / 2 ** 20).toFixed(1)}M`;
  if (a >= 1 << 10) return `${+(v / 2 ** 10).toFixed(1)}K`;
  return String(Math.round(v));
}
