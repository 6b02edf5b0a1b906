// A small SVG writer for the bench's chart: one group of bars per workload, each bar the ratio
// of a stack's figure to the kernel's in the same run (1.0 = the kernel; above is better, times
// are inverted first so above is better there too). Hand-written: no chart library.

const COLORS = ['#1f77b4', '#aec7e8', '#2ca02c', '#7f7f7f', '#ff7f0e', '#9467bd'];

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/**
 * groups: [{ label, bars: [{ series, ratio, text }] }], series: names in bar order.
 * Returns the SVG document as a string.
 */
export function barChart({ title, subtitle = '', series, groups, targetLines = [] }) {
  const barW = 18;
  const gap = 26;
  const left = 60;
  const top = 70;
  const plotH = 300;
  const groupW = series.length * barW + gap;
  const width = Math.max(640, left + groups.length * groupW + 20);
  const height = top + plotH + 120;
  const finite = groups.flatMap((g) => g.bars.map((b) => b.ratio)).filter((r) => Number.isFinite(r));
  const max = Math.max(1.2, ...finite) * 1.08;
  const y = (r) => top + plotH - (Math.min(r, max) / max) * plotH;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${left}" y="40" fill="#555">${esc(subtitle)}</text>`);
  // Axis with gridlines every 0.5 (or 1 when the scale is large).
  const step = max > 6 ? 1 : 0.5;
  for (let r = 0; r <= max; r += step) {
    out.push(`<line x1="${left}" x2="${width - 10}" y1="${y(r).toFixed(1)}" y2="${y(r).toFixed(1)}" stroke="${r === 1 ? '#000' : '#ddd'}" stroke-width="${r === 1 ? 1.2 : 1}"/>`);
    out.push(`<text x="${left - 6}" y="${(y(r) + 4).toFixed(1)}" text-anchor="end">${r.toFixed(1)}×</text>`);
  }
  for (const t of targetLines) {
    out.push(`<line x1="${left}" x2="${width - 10}" y1="${y(t.ratio).toFixed(1)}" y2="${y(t.ratio).toFixed(1)}" stroke="#d62728" stroke-dasharray="4 3"/>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + 10 + gi * groupW;
    g.bars.forEach((b) => {
      const si = series.indexOf(b.series);
      const x = x0 + si * barW;
      if (!Number.isFinite(b.ratio)) {
        out.push(`<text x="${x + barW / 2}" y="${top + plotH - 4}" text-anchor="middle" fill="#d62728">–</text>`);
        return;
      }
      const yy = y(b.ratio);
      out.push(`<rect x="${x}" y="${yy.toFixed(1)}" width="${barW - 2}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${g.label} ${b.series}: ${b.text} (${b.ratio.toFixed(2)}× the kernel)`)}</title></rect>`);
      out.push(`<text x="${x + barW / 2 - 1}" y="${(yy - 3).toFixed(1)}" text-anchor="middle" font-size="8">${b.ratio >= 10 ? b.ratio.toFixed(0) : b.ratio.toFixed(1)}</text>`);
    });
    out.push(`<text transform="translate(${x0 + (series.length * barW) / 2},${top + plotH + 12}) rotate(35)" font-size="10">${esc(g.label)}</text>`);
  });
  series.forEach((s, si) => {
    const x = left + si * 150;
    out.push(`<rect x="${x}" y="${height - 22}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/>`);
    out.push(`<text x="${x + 16}" y="${height - 12}">${esc(s)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
