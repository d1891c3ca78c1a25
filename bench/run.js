// The benchmark: every scenario against Switchyard, plain `ws` and Socket.IO in one run, each server
// in its own process, driven by the same generator processes. Writes bench/results/<time>.{json,md}
// and bench/results/latest.svg. Usage: node bench/run.js [--quick] [--only idle,echo,fanout,channels,slow]
// @ts-check

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AddressPool, round } from './lib/measure.js';
import { machineSnapshot, openFileLimit } from './lib/proc-stats.js';
import { renderChart } from './lib/chart.js';
import { updatePerformancePage } from './lib/docs-page.js';
import { renderMarkdown } from './lib/report.js';
import { echoScenario } from './scenarios/echo.js';
import { fanOutScenario } from './scenarios/fan-out.js';
import { idleScenario } from './scenarios/idle.js';
import { slowConsumerScenario } from './scenarios/slow-consumer.js';

/** @typedef {import('./lib/server-process.js').ServerVariant} ServerVariant */

/** @satisfies {Record<string, ServerVariant>} */
const VARIANTS = {
  switchyard: { kind: 'switchyard', label: 'switchyard' },
  ws: { kind: 'ws', label: 'ws' },
  socketio: { kind: 'socketio', label: 'socket.io' },
  deflate: { kind: 'switchyard', label: 'switchyard+deflate', flags: ['--compression'] },
};
/** @type {ServerVariant[]} */
const MAIN = [VARIANTS.switchyard, VARIANTS.ws, VARIANTS.socketio];

/** The server's own open-file limit, less room for its listening socket, stdio, IPC, epoll and friends. */
const FD_HEADROOM = 1000;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const only = new Set((values.only ?? 'idle,echo,fanout,channels,slow').split(','));
const started = new Date();
/** @param {string} line */
const log = (line) => process.stdout.write(`[${round((Date.now() - started.getTime()) / 1000, 1)}s] ${line}\n`);
/** @type {import('./lib/fleet.js').RunContext} */
const ctx = { quick, addresses: new AddressPool(), log };

const fdLimit = openFileLimit(process.pid);

/** The commit the servers were built from, marked when packages/ has uncommitted changes. */
function sourceVersion() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit}+changes` : commit;
  } catch {
    return 'unknown';
  }
}
const idleMax = Math.floor((fdLimit - FD_HEADROOM) / 1000) * 1000;

/** @type {import('./lib/report.js').BenchResults} */
const results = {
  startedAt: started.toISOString(),
  finishedAt: '',
  quick,
  source: sourceVersion(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    openFileLimit: fdLimit,
    loadAverageAtStart: machineSnapshot().loadavg,
  },
  idle: {},
  echo: {},
  fanOut: [],
  slowConsumer: {},
};

async function main() {
  log(`switchyard bench${quick ? ' (quick)' : ''}: ${results.machine.cpus} CPUs, open-file limit ${fdLimit}`);
  if (only.has('idle')) {
    const levels = quick ? [1000, 5000] : [1000, 10_000, idleMax];
    for (const variant of MAIN) results.idle[variant.label] = await idleScenario(variant, ctx, levels);
  }
  if (only.has('echo')) {
    for (const variant of MAIN) results.echo[variant.label] = await echoScenario(variant, ctx, [1, 100]);
  }
  if (only.has('fanout')) {
    /** @type {Array<{ id: string; subscribers: number }>} */
    const sizes = quick ? [{ id: 'fanout-1k', subscribers: 1000 }] : [{ id: 'fanout-1k', subscribers: 1000 }, { id: 'fanout-10k', subscribers: 10_000 }];
    for (const size of sizes) {
      const spec = { ...size, channels: 1, publishers: 1, pacedDeliveriesPerSecond: 20_000 };
      for (const variant of MAIN) {
        results.fanOut.push({ scenario: size.id, server: variant.label, encoding: 'json', ...(await fanOutScenario(variant, ctx, spec)) });
      }
      results.fanOut.push({ scenario: size.id, server: 'switchyard', encoding: 'msgpack', ...(await fanOutScenario(VARIANTS.switchyard, ctx, { ...spec, encoding: 'msgpack' })) });
      // Compression makes every socket frame for itself: 1k subscribers show its cost well enough, 10k take minutes.
      if (size.subscribers <= 1000) {
        results.fanOut.push({ scenario: size.id, server: VARIANTS.deflate.label, encoding: 'json', ...(await fanOutScenario(VARIANTS.deflate, ctx, { ...spec, deflate: true })) });
      }
    }
  }
  if (only.has('channels')) {
    const spec = quick
      ? { id: 'channels-2k', subscribers: 2000, channels: 200, publishers: 10, pacedDeliveriesPerSecond: 20_000 }
      : { id: 'channels-10k', subscribers: 10_000, channels: 1000, publishers: 10, pacedDeliveriesPerSecond: 20_000 };
    for (const variant of MAIN) {
      results.fanOut.push({ scenario: spec.id, server: variant.label, encoding: 'json', ...(await fanOutScenario(variant, ctx, spec)) });
    }
  }
  if (only.has('slow')) {
    for (const variant of [VARIANTS.switchyard, VARIANTS.ws]) results.slowConsumer[variant.label] = await slowConsumerScenario(variant, ctx);
  }
  results.finishedAt = new Date().toISOString();
  const directory = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(directory, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const suffix = quick ? '-quick' : '';
  writeFileSync(`${directory}${stamp}${suffix}.json`, `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results);
  writeFileSync(`${directory}${stamp}${suffix}.md`, markdown);
  // A partial run (--only) keeps its chart beside its tables instead of replacing the full run's.
  writeFileSync(values.only === undefined ? `${directory}latest${suffix}.svg` : `${directory}${stamp}${suffix}.svg`, renderChart(results));
  // Only a full run of every scenario speaks for the project on the docs page.
  if (!quick && values.only === undefined) {
    updatePerformancePage(fileURLToPath(new URL('../docs/performance.md', import.meta.url)), results, markdown, `../bench/results/${stamp}.md`);
  }
  log(`wrote bench/results/${stamp}${suffix}.{json,md} and a chart (.svg)`);
  process.stdout.write(`\n${markdown}`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
