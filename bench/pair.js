// Paired comparison for measuring a change: several servers (this build, an older build, plain `ws`, the
// same build with other flags) up at once on one fan-out scenario, taking the paced load in turns that
// rotate, as the full run does. Per publication it reports what the full run does not: the server's CPU
// split into user and system time, its garbage collections, and publish-to-deliver latency.
// With --windows it also prints each turn's latency, to tell a tail made by a few slow windows (stalls) from
// one that every window shares (a shifted distribution). With --profile <dir> every server writes a CPU profile
// of its measured turns alone to <dir>/<label>.cpuprofile (the time between its turns is idle in it); with
// --heap-profile <dir>, a sampling profile of what it allocates in them, to <dir>/<label>.heapprofile.
// With --passes it also times each server's fan-out passes from the publisher's send: when the server began
// writing a publication to its subscribers, and when it had written it to all of them. With --quantiles it prints
// the latency's quantiles from p5 to p99 over all turns: where in the distribution two servers part. As in the full
// run, every server's history is filled first (100 publications per channel); --empty-history skips that.
// Usage: node bench/pair.js [--scenario channels-10k] [--turns 12] [--windows] [--passes] [--quantiles] [--empty-history]
//   [--profile <dir> | --heap-profile <dir>] <server>...
//   <server>: switchyard | ws | socket.io | "<label>=<switchyard or a build's packages/server/dist/cli.js> [flag...]",
//   where a flag written node:<flag> goes to Node (e.g. "small=switchyard node:--max-semi-space-size=1")
// @ts-check

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AddressPool, round } from './lib/measure.js';
import { machineLoad, machineSnapshot } from './lib/proc-stats.js';
import { percentiles, quantiles } from './lib/samples.js';
import { fileNameOf, parseVariant } from './lib/server-process.js';
import { FanOutBench, SPECS, collectEverywhere, pacedTurn, turnOrder } from './scenarios/fan-out.js';

/** @typedef {import('./lib/server-process.js').ServerVariant} ServerVariant */

/**
 * One server's sums over its measured turns.
 * @typedef {object} Tally
 * @property {number} published
 * @property {number} user     CPU seconds
 * @property {number} system   CPU seconds
 * @property {number} scavenges
 * @property {number} scavengeMs
 * @property {number} full
 * @property {number} fullMs
 * @property {Array<{ values: number[]; seen: number; max: number }>} samples  latency samples of every turn
 * @property {import('./lib/samples.js').Percentiles[]} windows  each turn's latency
 * @property {number} [allocatedBytes]  what the allocation profile (--heap-profile) estimates was allocated
 */

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scenario: { type: 'string', default: 'channels-10k' }, turns: { type: 'string', default: '12' }, windows: { type: 'boolean', default: false },
    profile: { type: 'string' }, 'heap-profile': { type: 'string' }, passes: { type: 'boolean', default: false },
    quantiles: { type: 'boolean', default: false }, 'empty-history': { type: 'boolean', default: false },
  },
});
const scenario = values.scenario ?? 'channels-10k';
const spec = /** @type {Record<string, import('./scenarios/fan-out.js').FanOutSpec>} */ (SPECS)[scenario];
if (spec === undefined) throw new Error(`--scenario is one of ${Object.keys(SPECS).join(', ')}`);
const turns = Number(values.turns);
if (!Number.isInteger(turns) || turns < 1 || turns > 100) throw new Error('--turns must be a whole number from 1 to 100');
if (positionals.length === 0) throw new Error('name the servers to compare, e.g.: switchyard ws');
// Made before the run, so that a profile directory that cannot be made fails now, not after every turn.
if (values.profile !== undefined && values['heap-profile'] !== undefined) throw new Error('take --profile or --heap-profile, not both');
const profileKind = values['heap-profile'] !== undefined ? 'heap' : 'cpu';
const profileArg = values.profile ?? values['heap-profile'];
const profileDir = profileArg === undefined ? undefined : resolve(profileArg);
if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });

const variants = positionals.map(parseVariant);
if (new Set(variants.map((variant) => variant.label)).size !== variants.length) throw new Error('give every server its own label');
/** @type {import('./lib/fleet.js').RunContext} */
const ctx = { quick: false, addresses: new AddressPool(), log: (line) => process.stdout.write(`${line}\n`) };
const take = pacedTurn(spec);

/** @type {FanOutBench[]} */
const benches = [];
try {
  for (const variant of variants) {
    benches.push(await FanOutBench.open(variant, ctx, { ...spec, encoding: 'json' }));
    ctx.log(`${variant.label}: ${spec.subscribers} subscribers on ${spec.channels} channel${spec.channels === 1 ? '' : 's'}`);
  }
  // Unmeasured first, as in the full run: history filled (unless --empty-history, to measure a server whose history
  // is still growing), then one saturated phase each, then one turn. V8 sizes a server's young
  // generation by what it has allocated so far: without the saturated phase, plain `ws` went through the
  // measured turns with four times the scavenges (2.0 against 0.5 per 1,000 publications) in one trial.
  if (!values['empty-history']) for (const bench of benches) await bench.fillHistory();
  for (const bench of benches) await bench.saturated(ctx);
  for (const bench of benches) await take(bench);
  await collectEverywhere(benches);
  if (profileDir !== undefined) for (const bench of benches) await bench.server.profileStart(profileKind);
  // The first request starts the timing; the second, after the turns, takes what the turns made.
  if (values.passes) for (const bench of benches) await bench.server.passes();
  /** @type {Tally[]} */
  const tallies = benches.map(() => ({ published: 0, user: 0, system: 0, scavenges: 0, scavengeMs: 0, full: 0, fullMs: 0, samples: [], windows: [] }));
  const machineBefore = machineSnapshot();
  for (let turn = 0; turn < turns; turn++) {
    for (const index of turnOrder(benches.length, turn)) {
      const bench = /** @type {FanOutBench} */ (benches[index]);
      const tally = /** @type {Tally} */ (tallies[index]);
      const server = bench.server;
      const [cpu, collected] = [server.cpuTimes(), await server.collections()];
      const window = await take(bench);
      const [cpuAfter, collectedAfter] = [server.cpuTimes(), await server.collections()];
      tally.published += window.phase.published;
      tally.user += cpuAfter.user - cpu.user;
      tally.system += cpuAfter.system - cpu.system;
      tally.scavenges += collectedAfter.scavenges - collected.scavenges;
      tally.scavengeMs += collectedAfter.scavengeMs - collected.scavengeMs;
      tally.full += collectedAfter.full - collected.full;
      tally.fullMs += collectedAfter.fullMs - collected.fullMs;
      tally.samples.push(...window.samples);
      tally.windows.push(window.phase.latencyMs);
    }
    ctx.log(`turn ${turn + 1} of ${turns}`);
  }
  if (profileDir !== undefined) {
    for (const [index, bench] of benches.entries()) {
      const stopped = await bench.server.profileStop(join(profileDir, `${fileNameOf(bench.variant.label)}.${profileKind}profile`));
      const tally = /** @type {Tally} */ (tallies[index]);
      if (stopped.allocatedBytes !== undefined) tally.allocatedBytes = stopped.allocatedBytes;
    }
  }
  /** @type {Array<import('./lib/gc-hook.js').Passes | undefined>} */
  const passes = [];
  for (const bench of benches) passes.push(values.passes ? await bench.server.passes() : undefined);
  report(tallies, passes, machineLoad(machineBefore, machineSnapshot()));
} finally {
  for (const bench of benches) await bench.close();
}

/**
 * Print the comparison as a Markdown table, ratios against the first server.
 * @param {Tally[]} tallies
 * @param {Array<import('./lib/gc-hook.js').Passes | undefined>} passes  with --passes
 * @param {import('./lib/proc-stats.js').MachineLoad} machine
 */
function report(tallies, passes, machine) {
  const perPublication = (/** @type {number} */ seconds, /** @type {Tally} */ tally) => (tally.published > 0 ? (seconds * 1e6) / tally.published : 0);
  const first = /** @type {Tally} */ (tallies[0]);
  const firstTotal = perPublication(first.user + first.system, first);
  const lines = [
    `${scenario}, ${turns} turns each (CPU and collections: the whole turn, warm-up and drain included, over the publications it made); ` +
      `machine ${machine.cpuBusyPercent} % busy, CPU steal ${machine.stealPercent} %`,
    '',
    '| server | publications | CPU µs per publication: user | system | total | total vs first | scavenges per 1k publications | scavenge ms per 1k publications | full collections (ms) | latency p50 ms | p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  tallies.forEach((tally, index) => {
    const total = perPublication(tally.user + tally.system, tally);
    const perThousand = (/** @type {number} */ count) => (tally.published > 0 ? round((1000 * count) / tally.published, 2) : 0);
    const latency = percentiles(tally.samples);
    lines.push(`| ${variants[index]?.label} | ${tally.published} | ${round(perPublication(tally.user, tally), 1)} | ${round(perPublication(tally.system, tally), 1)} | ` +
      `${round(total, 1)} | ${firstTotal > 0 ? round(total / firstTotal, 3) : ''} | ${perThousand(tally.scavenges)} | ${perThousand(tally.scavengeMs)} | ` +
      `${tally.full} (${round(tally.fullMs, 1)}) | ${latency.p50} | ${latency.p99} |`);
  });
  if (values.passes) {
    lines.push('', 'Fan-out passes, from the publisher\'s send (medians, ms; the whole turn, warm-up and drain included):', '',
      '| server | passes | the pass begins | the pass ends |', '| --- | ---: | ---: | ---: |');
    passes.forEach((timed, index) => lines.push(`| ${variants[index]?.label} | ${timed?.count ?? 0} | ${timed?.beganP50 ?? ''} | ${timed?.endedP50 ?? ''} |`));
  }
  if (tallies.some((tally) => tally.allocatedBytes !== undefined)) {
    lines.push('', 'Allocated per publication, as the sampling heap profile (a sample about every 4 KiB) estimates it, collected objects included:', '',
      '| server | bytes |', '| --- | ---: |');
    tallies.forEach((tally, index) => lines.push(`| ${variants[index]?.label} | ${tally.published > 0 ? round((tally.allocatedBytes ?? 0) / tally.published, 0) : 0} |`));
  }
  if (values.quantiles) {
    const qs = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];
    lines.push('', 'Latency quantiles over all turns, ms:', '', `| server | ${qs.map((q) => `p${Math.round(q * 100)}`).join(' | ')} |`, `| --- |${' ---: |'.repeat(qs.length)}`);
    tallies.forEach((tally, index) => lines.push(`| ${variants[index]?.label} | ${quantiles(tally.samples, qs).join(' | ')} |`));
  }
  if (values.windows) {
    lines.push('', 'Latency of each turn, ms (p50 / p99 / max):', '', `| turn | ${variants.map((variant) => variant.label).join(' | ')} |`, `| ---: |${' ---: |'.repeat(variants.length)}`);
    for (let turn = 0; turn < turns; turn++) {
      const cells = tallies.map((tally) => {
        const latency = tally.windows[turn];
        return latency === undefined ? '' : `${latency.p50} / ${latency.p99} / ${latency.max}`;
      });
      lines.push(`| ${turn + 1} | ${cells.join(' | ')} |`);
    }
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}
