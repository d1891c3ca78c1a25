// Puts the latest full run into docs/performance.md, between two marker comments, leaving the
// hand-written parts of the page alone.
// @ts-check

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { headlines, targetMet, withinControl } from './report.js';

const START = '<!-- bench:latest:start -->';
const END = '<!-- bench:latest:end -->';

/**
 * @param {string} path  docs/performance.md
 * @param {import('./report.js').BenchResults} results
 * @param {string} markdown  the run's full report
 * @param {string} resultFile  the run's .md file, relative to the docs folder
 */
export function updatePerformancePage(path, results, markdown, resultFile) {
  if (!existsSync(path)) return;
  const page = readFileSync(path, 'utf8');
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start < 0 || end < start) return;
  const lines = headlines(results).filter((line) => line.target !== undefined);
  const met = lines.filter((line) => targetMet(line) === true).length;
  const close = lines.filter((line) => targetMet(line) === false && withinControl(line)).length;
  // The run's own title becomes a subsection here.
  const body = markdown.replace(/^# .*\n/, '').replace(/^## /gm, '### ');
  const section = `${START}\n## Latest run (${results.startedAt})\n\nTargets met: **${met} of ${lines.length}**${close > 0 ? ` (${close} more missed by no more than the control's spread)` : ''} (see the "met" column). Full report: [${resultFile}](${resultFile}).\n\n![Switchyard vs plain ws vs Socket.IO](../bench/results/latest.svg)\n\n${body}\n${END}`;
  writeFileSync(path, page.slice(0, start) + section + page.slice(end + END.length));
}
