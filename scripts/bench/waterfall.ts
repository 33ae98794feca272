// One merge's requests on a time axis, as an SVG (hand-written, no dependency): a bar per request
// from its arrival at the proxy to the end of its answer, one row each, coloured by wave; the
// critical path (the longest chain of requests each sent after the one before it was answered,
// waves.ts) outlined; dashed lines one injected latency apart; the start-up (spawn to the first
// request) shaded. `npm run bench` draws one per scenario for BENCHMARKS.md.
import type { TimedRequest } from './lab.js';
import { criticalPath, waveOf } from './waves.js';

const WIDTH = 960;
const LABEL = 250;
const RIGHT = 20;
const ROW = 12;
const TOP = 56;
const BOTTOM = 34;
/** one colour per wave, in turn */
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#9c755f', '#bab0ac'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** A tick step of 1, 2 or 5 times a power of ten giving at most `most` ticks over `span`. */
function tickStep(span: number, most: number): number {
  const raw = span / most;
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
}

export interface Waterfall {
  title: string;
  requests: TimedRequest[];
  /** the run's wall time (spawn to exit), the end of the axis */
  wallMs: number;
  /** the injected latency, for the dashed lines (none when 0) */
  latencyMs: number;
}

/** The SVG document of one run's requests. */
export function waterfallSvg({ title, requests, wallMs, latencyMs }: Waterfall): string {
  const done = requests.filter((r) => r.endMs !== undefined).sort((a, b) => a.startMs - b.startMs || a.endMs! - b.endMs!);
  const waves = waveOf(done);
  const critical = new Set(criticalPath(done));
  const sites = new Set(done.map((r) => r.site));
  const end = Math.max(wallMs, ...done.map((r) => r.endMs!));
  const plot = WIDTH - LABEL - RIGHT;
  const x = (ms: number) => r1(LABEL + (Math.max(0, ms) / end) * plot);
  const height = TOP + done.length * ROW + BOTTOM;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="ui-monospace, SFMono-Regular, Menlo, monospace" font-size="10">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="16" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="8" y="32" fill="#555">${escapeXml(
      `${done.length} requests, ${critical.size} waves (outlined in red: the critical path); ` +
        (latencyMs > 0 ? `dashed lines every ${latencyMs} ms (the latency added to each request); ` : '') +
        'grey: from spawn to the first request',
    )}</text>`,
  ];
  const first = done[0]?.startMs ?? 0;
  out.push(`<rect x="${LABEL}" y="${TOP - 6}" width="${r1(x(first) - LABEL)}" height="${done.length * ROW + 6}" fill="#eeeeee"/>`);
  if (latencyMs > 0 && end / latencyMs <= 200) {
    for (let t = first + latencyMs; t < end; t += latencyMs)
      out.push(`<line x1="${x(t)}" y1="${TOP - 6}" x2="${x(t)}" y2="${TOP + done.length * ROW}" stroke="#cccccc" stroke-dasharray="2,3"/>`);
  }
  const step = tickStep(end, 12);
  const axis = TOP + done.length * ROW + 4;
  out.push(`<line x1="${LABEL}" y1="${axis}" x2="${WIDTH - RIGHT}" y2="${axis}" stroke="#333"/>`);
  for (let t = 0; t <= end; t += step) {
    out.push(`<line x1="${x(t)}" y1="${axis}" x2="${x(t)}" y2="${axis + 4}" stroke="#333"/>`);
    out.push(`<text x="${x(t)}" y="${axis + 15}" text-anchor="middle">${Math.round(t)} ms</text>`);
  }
  done.forEach((r, i) => {
    const y = TOP + i * ROW;
    const colour = PALETTE[(waves[i] - 1) % PALETTE.length];
    const onPath = critical.has(r);
    const label = `${String(waves[i]).padStart(2)} ${sites.size > 1 ? `${r.site} ` : ''}${r.kind} ${r.status}`;
    out.push(
      `<text x="${LABEL - 6}" y="${y + 8}" text-anchor="end"${onPath ? ' font-weight="bold" fill="#c0392b"' : ''}>${escapeXml(label)}</text>`,
    );
    const width = Math.max(1, r1(x(r.endMs!) - x(r.startMs)));
    out.push(
      `<rect x="${x(r.startMs)}" y="${y}" width="${width}" height="${ROW - 3}" fill="${colour}"${onPath ? ' stroke="#c0392b" stroke-width="1.5"' : ''}><title>${escapeXml(
        `${r.site} ${r.kind} ${r.status}: ${Math.round(r.startMs)}-${Math.round(r.endMs!)} ms, wave ${waves[i]}`,
      )}</title></rect>`,
    );
  });
  out.push(`<line x1="${x(wallMs)}" y1="${TOP - 6}" x2="${x(wallMs)}" y2="${axis}" stroke="#333" stroke-width="1.5"/>`);
  out.push(`<text x="${x(wallMs) - 3}" y="${TOP - 10}" text-anchor="end">exit ${Math.round(wallMs)} ms</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
