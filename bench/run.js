// The benchmark: every scenario against Switchyard, plain `ws` and Socket.IO in one run, each server
// in its own process, driven by the same generator processes. Writes bench/results/<time>.{json,md}
// and bench/results/latest.svg. Usage: node bench/run.js [--quick] [--rounds N] [--only idle,echo,fanout,channels,slow]
// With several rounds (5 in a full run), each scenario runs the servers in turn, round after round, and
// every figure reported is the median of its rounds.
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
import { headlines, renderMarkdown } from './lib/report.js';
import { medianOfRounds } from './lib/rounds.js';
import { echoScenario } from './scenarios/echo.js';
import { FanOutBench, HISTORY_FILL_PER_CHANNEL, SPECS, compareFanOut, pacedTurn, pooled, takesSingles } from './scenarios/fan-out.js';
import { idleScenario } from './scenarios/idle.js';
import { slowConsumerScenario } from './scenarios/slow-consumer.js';

/** @typedef {import('./lib/server-process.js').ServerVariant} ServerVariant */

/** @satisfies {Record<string, ServerVariant>} */
const VARIANTS = {
  switchyard: { kind: 'switchyard', label: 'switchyard' },
  ws: { kind: 'ws', label: 'ws' },
  socketio: { kind: 'socketio', label: 'socket.io' },
  // The threshold is lowered so that the bench's ~100-byte publications really are compressed.
  deflate: { kind: 'switchyard', label: 'switchyard+deflate', flags: ['--compression', '--compression-threshold', '64'] },
  // A second, identical plain-`ws` server: how far two runs of the same server differ is the resolution of
  // every latency ratio in the same scenario (see CONTROL in lib/report.js).
  control: { kind: 'ws', label: 'ws (control)' },
};
/** @type {ServerVariant[]} */
const MAIN = [VARIANTS.switchyard, VARIANTS.ws, VARIANTS.socketio];

/** The server's own open-file limit, less room for its listening socket, stdio, IPC, epoll and friends. */
const FD_HEADROOM = 1000;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
  },
});
const quick = values.quick ?? false;
const rounds = Number(values.rounds ?? (quick ? 1 : 5));
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error('--rounds must be a whole number from 1 to 9');
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
  rounds,
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

/**
 * Run `measure` for every job (a server variant, or a variant with settings), `rounds` times over (the
 * jobs take turns within a round, so slow drifts in the machine's load hit them alike), and return
 * each job's results as a list by round.
 * @template J, T
 * @param {J[]} jobs
 * @param {(job: J) => Promise<T>} measure
 * @param {number} [count]
 * @returns {Promise<T[][]>} by job, then by round
 */
async function inRounds(jobs, measure, count = rounds) {
  /** @type {T[][]} */
  const byJob = jobs.map(() => []);
  for (let round = 0; round < count; round++) {
    if (count > 1) log(`round ${round + 1} of ${count}`);
    for (const [index, job] of jobs.entries()) byJob[index]?.push(await measure(job));
  }
  return byJob;
}

/** Per-round results, rebuilt as whole runs so that each round's ratios can be shown beside the medians. */
/** @type {import('./lib/report.js').BenchResults[]} */
const perRound = [];

/**
 * @param {number} round
 * @returns {import('./lib/report.js').BenchResults}
 */
function roundResults(round) {
  while (perRound.length <= round) perRound.push({ ...results, idle: {}, echo: {}, fanOut: [], slowConsumer: {} });
  return /** @type {import('./lib/report.js').BenchResults} */ (perRound[round]);
}

/**
 * Keep a variant's rounds: each in its round's results, their median in the run's.
 * @template T
 * @param {T[]} values  by round
 * @param {(target: import('./lib/report.js').BenchResults, value: T) => void} store
 */
function keep(values, store) {
  values.forEach((value, round) => store(roundResults(round), value));
  store(results, medianOfRounds(values));
}

/**
 * Paced windows per server per round in the fan-out scenarios. A p99 is the worst 1 % of a server's paced
 * time: with 15 s of it in a run, one 150 ms stall of the machine (CPU steal, a generator's GC) decides it;
 * six windows give 30 s.
 */
const PACED_WINDOWS = 6;
/** Turns per round when the paced load is taken one publication at a time (see `takesSingles`): 150 publications each in a full run. */
const SINGLE_TURNS = 30;

/**
 * Fan-out rounds: every server up at once with its clients (started one after another), its history filled
 * (`FanOutBench.fillHistory`), then per round one saturated phase each and the paced load in turns (`compareFanOut`).
 * @param {Array<{ variant: ServerVariant; spec: import('./scenarios/fan-out.js').FanOutSpec & { encoding: 'json' | 'msgpack' } }>} jobs
 * @param {{ turns: number; take: import('./scenarios/fan-out.js').PacedTurns['take'] }} paced  turns per round, and what a server takes in each
 */
async function fanOutRounds(jobs, paced) {
  /** @type {FanOutBench[]} */
  const benches = [];
  try {
    for (const job of jobs) benches.push(await FanOutBench.open(job.variant, ctx, job.spec));
    for (const bench of benches) {
      const made = await bench.fillHistory();
      log(`  ${bench.label}: history filled (${made} publications, ${HISTORY_FILL_PER_CHANNEL} per channel)`);
    }
    /** @type {import('./scenarios/fan-out.js').FanOutResult[][]} by round, then by job */
    const byRound = [];
    /** @type {import('./scenarios/fan-out.js').PacedWindow[][]} every paced window of every round, by job */
    const windows = jobs.map(() => []);
    for (let round = 0; round < rounds; round++) {
      if (rounds > 1) log(`round ${round + 1} of ${rounds}`);
      const turns = quick ? 2 : paced.turns;
      const compared = await compareFanOut(benches, ctx, { turns, take: paced.take, round, firstTurn: round * turns });
      byRound.push(compared.results);
      compared.windows.forEach((mine, index) => windows[index]?.push(...mine));
    }
    jobs.forEach((job, index) => keep(byRound.map((results) => /** @type {import('./scenarios/fan-out.js').FanOutResult} */ (results[index])), (target, value) => {
      // The run's paced figures pool every window of every round; a round's own row keeps its own windows.
      const paced = target === results ? pooled(windows[index] ?? []) : value.paced;
      target.fanOut.push({ scenario: job.spec.id, server: job.variant.label, encoding: job.spec.encoding, ...value, paced });
    }));
  } finally {
    for (const bench of benches) await bench.close();
  }
}

async function main() {
  log(`switchyard bench${quick ? ' (quick)' : ''}: ${results.machine.cpus} CPUs, open-file limit ${fdLimit}, ${rounds} round${rounds === 1 ? '' : 's'} (figures are medians)`);
  if (only.has('idle')) {
    const levels = quick ? [1000, 5000] : [1000, 10_000, idleMax];
    const measured = await inRounds(MAIN, (variant) => idleScenario(variant, ctx, levels));
    MAIN.forEach((variant, index) => keep(measured[index] ?? [], (target, value) => { target.idle[variant.label] = value; }));
  }
  if (only.has('echo')) {
    const measured = await inRounds(MAIN, (variant) => echoScenario(variant, ctx, [1, 100]));
    MAIN.forEach((variant, index) => keep(measured[index] ?? [], (target, value) => { target.echo[variant.label] = value; }));
  }
  if (only.has('fanout')) {
    const specs = quick ? [SPECS['fanout-1k']] : [SPECS['fanout-1k'], SPECS['fanout-10k']];
    for (const spec of specs) {
      /** @type {Array<{ variant: ServerVariant; encoding: 'json' | 'msgpack'; deflate: boolean }>} */
      const runs = [
        ...[...MAIN, VARIANTS.control].map((variant) => ({ variant, encoding: /** @type {const} */ ('json'), deflate: false })),
        { variant: VARIANTS.switchyard, encoding: 'msgpack', deflate: false },
      ];
      // Compression makes every subscriber inflate every message: 1k subscribers show its cost well enough.
      if (spec.subscribers <= 1000) runs.push({ variant: VARIANTS.deflate, encoding: 'json', deflate: true });
      const paced = { turns: takesSingles(spec) ? SINGLE_TURNS : PACED_WINDOWS, take: pacedTurn(spec) };
      await fanOutRounds(runs.map((run) => ({ variant: run.variant, spec: { ...spec, encoding: run.encoding, deflate: run.deflate } })), paced);
    }
  }
  if (only.has('channels')) {
    const spec = quick ? SPECS['channels-2k'] : SPECS['channels-10k'];
    const variants = [...MAIN, VARIANTS.control];
    await fanOutRounds(variants.map((variant) => ({ variant, spec: { ...spec, encoding: /** @type {const} */ ('json') } })), { turns: PACED_WINDOWS, take: pacedTurn(spec) });
  }
  if (only.has('slow')) {
    // A bound, not a rate: one round says whether memory stays bounded.
    const measured = await inRounds([VARIANTS.switchyard, VARIANTS.ws], (variant) => slowConsumerScenario(variant, ctx), 1);
    [VARIANTS.switchyard, VARIANTS.ws].forEach((variant, index) => keep(measured[index] ?? [], (target, value) => { target.slowConsumer[variant.label] = value; }));
  }
  if (rounds > 1) {
    /** @type {Record<string, Array<number | null>>} */
    const spread = {};
    for (const round of perRound) {
      for (const line of headlines(round)) {
        const mine = line.values['switchyard'];
        const theirs = line.values['ws'];
        (spread[line.name] ??= []).push(typeof mine === 'number' && typeof theirs === 'number' && theirs !== 0 ? mine / theirs : null);
      }
    }
    results.roundRatiosVsWs = spread;
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
