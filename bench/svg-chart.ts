// SVG chart: a grouped bar chart with optional min-max whiskers, value labels, a legend
// and an optional dashed reference line (a target), as one self-contained SVG string.
// The benchmark report draws its charts with it, so the suite needs no chart package.
// Pure: a spec in, text out. Every text is XML-escaped; a missing value leaves a gap.

/** One bar: its height, an optional whisker (low..high) and the text printed above it. */
export interface BarValue {
  value: number;
  low?: number;
  high?: number;
  /** Default: the value rounded. */
  label?: string;
}

/** One series: a bar in every group (undefined: no bar there). */
export interface BarSeries {
  name: string;
  /** CSS colour; default from a fixed palette by position. */
  color?: string;
  values: readonly (BarValue | undefined)[];
}

/** What barChart draws. */
export interface BarChartSpec {
  title: string;
  /** Label of the y axis, with the unit, e.g. 'ms from launch'. */
  yLabel: string;
  /** The x categories, left to right. */
  groups: readonly string[];
  series: readonly BarSeries[];
  /** A dashed horizontal line, e.g. a target. */
  reference?: { value: number; label: string };
  /** Default 720 x 380 px. */
  width?: number;
  height?: number;
}

/** Series colours, in order (colour-blind safe: blue, orange, green, purple). */
export const PALETTE: readonly string[] = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd'];

/** Text safe inside an SVG element or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A round tick step (1, 2 or 5 times a power of ten) giving at most about `ticks` steps up to max. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

const num = (x: number): string => String(Math.round(x * 10) / 10);

/** Draw a grouped bar chart as an SVG document. */
export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 380;
  const left = 70;
  const right = 20;
  const top = 48;
  const bottom = 70;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const tops = spec.series.flatMap((s) => s.values.flatMap((v) => (v ? [v.high ?? v.value, v.value] : [])));
  if (spec.reference) tops.push(spec.reference.value);
  const step = niceStep(Math.max(0, ...tops.filter(Number.isFinite)));
  const yMax = Math.max(step, Math.ceil(Math.max(0, ...tops.filter(Number.isFinite)) / step) * step);
  const y = (v: number): number => top + plotH - (Math.max(0, v) / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  ];
  for (let t = 0; t <= yMax + step / 1e6; t += step) {
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${num(y(t))}" y2="${num(y(t))}" stroke="#e0e0e0"/>`,
      `<text x="${left - 6}" y="${num(y(t) + 4)}" text-anchor="end">${escapeXml(num(t))}</text>`,
    );
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`, `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  const groupW = plotW / Math.max(1, spec.groups.length);
  const barW = Math.min(60, (groupW * 0.8) / Math.max(1, spec.series.length));
  for (const [g, name] of spec.groups.entries()) {
    const gx = left + g * groupW;
    out.push(`<text x="${num(gx + groupW / 2)}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(name)}</text>`);
    const x0 = gx + (groupW - barW * spec.series.length) / 2;
    for (const [i, s] of spec.series.entries()) {
      const v = s.values[g];
      if (!v || !Number.isFinite(v.value)) continue;
      const color = s.color ?? PALETTE[i % PALETTE.length]!;
      const x = x0 + i * barW;
      const cx = x + barW / 2;
      out.push(`<rect x="${num(x + 2)}" y="${num(y(v.value))}" width="${num(barW - 4)}" height="${num(top + plotH - y(v.value))}" fill="${escapeXml(color)}"><title>${escapeXml(`${s.name}, ${name}: ${v.label ?? num(v.value)}`)}</title></rect>`);
      let labelY = y(v.value) - 4;
      if (v.low !== undefined && v.high !== undefined && Number.isFinite(v.low) && Number.isFinite(v.high)) {
        out.push(
          `<line x1="${num(cx)}" x2="${num(cx)}" y1="${num(y(v.low))}" y2="${num(y(v.high))}" stroke="#222"/>`,
          `<line x1="${num(cx - 6)}" x2="${num(cx + 6)}" y1="${num(y(v.high))}" y2="${num(y(v.high))}" stroke="#222"/>`,
          `<line x1="${num(cx - 6)}" x2="${num(cx + 6)}" y1="${num(y(v.low))}" y2="${num(y(v.low))}" stroke="#222"/>`,
        );
        labelY = Math.min(labelY, y(v.high) - 4);
      }
      out.push(`<text x="${num(cx)}" y="${num(labelY)}" text-anchor="middle" font-size="11">${escapeXml(v.label ?? num(v.value))}</text>`);
    }
  }
  if (spec.reference) {
    const ry = num(y(spec.reference.value));
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${ry}" y2="${ry}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${left + 4}" y="${num(y(spec.reference.value) - 5)}" text-anchor="start" fill="#c00">${escapeXml(spec.reference.label)}</text>`,
    );
  }
  const legendY = height - 22;
  let lx = left;
  for (const [i, s] of spec.series.entries()) {
    out.push(
      `<rect x="${lx}" y="${legendY - 10}" width="12" height="12" fill="${escapeXml(s.color ?? PALETTE[i % PALETTE.length]!)}"/>`,
      `<text x="${lx + 16}" y="${legendY}">${escapeXml(s.name)}</text>`,
    );
    lx += 24 + 7 * s.name.length;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
