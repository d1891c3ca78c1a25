// A hand-written SVG bar chart of the headline figures: Switchyard, ws and Socket.IO side by side,
// each group scaled to its best value (so groups with different units share one chart).
// @ts-check

import { headlines } from './report.js';

const COLORS = /** @type {Record<string, string>} */ ({ switchyard: '#2563eb', ws: '#6b7280', 'socket.io': '#f59e0b' });

/**
 * @param {string} text
 * @returns {string}
 */
function escape(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * @param {number} value
 * @returns {string}
 */
function short(value) {
  if (value >= 1e6) return `${Math.round(value / 1e5) / 10}M`;
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`;
  if (value >= 1e3) return `${Math.round(value / 1e2) / 10}k`;
  return String(Math.round(value * 100) / 100);
}

/**
 * @param {import('./report.js').BenchResults} results
 * @returns {string} an SVG document
 */
export function renderChart(results) {
  const lines = headlines(results).filter((line) => line.unit === '/cpu-s' || line.name.startsWith('idle: RSS') || line.name.includes('same offered load'));
  const servers = Object.keys(COLORS);
  const labelWidth = 420;
  const barArea = 380;
  const barHeight = 14;
  const groupHeight = servers.length * barHeight + 16;
  const top = 56;
  const height = top + lines.length * groupHeight + 30;
  const width = labelWidth + barArea + 90;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">\n`;
  svg += `<rect width="100%" height="100%" fill="#ffffff"/>\n`;
  svg += `<text x="12" y="22" font-size="15" font-weight="bold">Switchyard vs plain ws vs Socket.IO — ${escape(results.startedAt)}${results.quick ? ' (quick)' : ''}</text>\n`;
  svg += `<text x="12" y="40" fill="#555">Bars scaled per row to the largest value; ↑ more is better, ↓ less is better. Per CPU-s = per second of the server's own CPU.</text>\n`;
  servers.forEach((server, index) => {
    const x = labelWidth + index * 120;
    svg += `<rect x="${x}" y="${height - 22}" width="12" height="12" fill="${COLORS[server]}"/><text x="${x + 16}" y="${height - 12}">${escape(server)}</text>\n`;
  });
  lines.forEach((line, index) => {
    const y = top + index * groupHeight;
    const values = servers.map((server) => line.values[server] ?? 0);
    const max = Math.max(...values, 1e-9);
    svg += `<text x="12" y="${y + groupHeight / 2}">${escape(line.name)} ${line.lowerIsBetter ? '↓' : '↑'}</text>\n`;
    servers.forEach((server, position) => {
      const value = line.values[server];
      const barY = y + position * barHeight + 4;
      const length = value === null || value === undefined ? 0 : Math.max(1, (barArea * value) / max);
      svg += `<rect x="${labelWidth}" y="${barY}" width="${length.toFixed(1)}" height="${barHeight - 3}" fill="${COLORS[server]}"/>`;
      svg += `<text x="${(labelWidth + length + 4).toFixed(1)}" y="${barY + barHeight - 5}" font-size="10">${value === null || value === undefined ? 'n/a' : short(value)}</text>\n`;
    });
  });
  svg += '</svg>\n';
  return svg;
}
