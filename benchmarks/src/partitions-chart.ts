/** Hand-written SVG line chart for `pnpm bench partitions`: commits/s against partitions, one line per in-flight level, peers as dashed lines. */
import type { Row } from './harness.js';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

export function renderChart(rows: readonly Row[]): string {
  const W = 760;
  const H = 440;
  const L = 80;
  const R = 170;
  const T = 40;
  const B = 50;
  const tessera = rows.filter((r) => r.params.system === 'tessera');
  const peers = rows.filter((r) => r.params.system !== 'tessera');
  const ps = [...new Set(tessera.map((r) => Number(r.params.partitions)))].sort((a, b) => a - b);
  const inflights = [...new Set(rows.map((r) => Number(r.params.inflight)))].sort((a, b) => a - b);
  const maxY = niceMax(Math.max(1, ...rows.map((r) => r.opsPerSec)));
  const lp = ps.map((p) => Math.log2(p));
  const minX = Math.min(0, ...lp);
  const maxX = Math.max(1, ...lp);
  const x = (p: number) => L + ((Math.log2(p) - minX) / (maxX - minX)) * (W - L - R);
  const y = (v: number) => H - B - (v / maxY) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  const first = tessera[0]?.params;
  out.push(`<text x="${L}" y="22" font-size="15" font-weight="bold">Replicated, synced commits/s vs partitions (3 nodes, ${esc(String(first?.storage ?? ''))}, ${esc(String(first?.transport ?? ''))})</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (maxY / 5) * i;
    out.push(`<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 8}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  for (const p of ps) {
    out.push(`<line x1="${x(p)}" y1="${H - B}" x2="${x(p)}" y2="${H - B + 5}" stroke="#333"/>`);
    out.push(`<text x="${x(p)}" y="${H - B + 18}" text-anchor="middle">${p}</text>`);
  }
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">partitions (P)</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">commits/s</text>`);
  let legend = 0;
  inflights.forEach((inf, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = tessera.filter((r) => Number(r.params.inflight) === inf).sort((a, b) => Number(a.params.partitions) - Number(b.params.partitions));
    if (pts.length === 0) return;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((r) => `${x(Number(r.params.partitions))},${y(r.opsPerSec)}`).join(' ')}"/>`);
    for (const r of pts) out.push(`<circle cx="${x(Number(r.params.partitions))}" cy="${y(r.opsPerSec)}" r="3" fill="${color}"/>`);
    out.push(`<line x1="${W - R + 15}" y1="${T + 10 + legend * 18}" x2="${W - R + 35}" y2="${T + 10 + legend * 18}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${W - R + 40}" y="${T + 14 + legend * 18}">tessera, ${inf} in flight</text>`);
    legend++;
    for (const peer of peers.filter((r) => Number(r.params.inflight) === inf)) {
      out.push(`<line x1="${L}" y1="${y(peer.opsPerSec)}" x2="${W - R}" y2="${y(peer.opsPerSec)}" stroke="${color}" stroke-dasharray="${peer.params.system === 'etcd' ? '6 4' : '2 3'}"/>`);
    }
  });
  for (const sys of [...new Set(peers.map((r) => String(r.params.system)))]) {
    out.push(`<line x1="${W - R + 15}" y1="${T + 10 + legend * 18}" x2="${W - R + 35}" y2="${T + 10 + legend * 18}" stroke="#555" stroke-dasharray="${sys === 'etcd' ? '6 4' : '2 3'}"/>`);
    out.push(`<text x="${W - R + 40}" y="${T + 14 + legend * 18}">${esc(sys)} (same colour = in flight)</text>`);
    legend++;
  }
  out.push('</svg>');
  return out.join('\n');
}
