// Instructions per fan-out delivery, counted rather than timed: each server runs under valgrind's callgrind,
// with counting off while it warms up, then on for `--measured` publications to `--subscribers` subscribers of one
// channel, each awaited until every subscriber has it. The warm-up is `--warm` publications to a channel with one
// subscriber (so that V8 optimizes the publish path, as a long run would), then 10 times `--measured` to the
// measured channel. Only the server's main thread is counted, the
// thread that delivers (compilers and the collector's helpers have their own). Counts do not move with CPU steal or
// with the other load on the machine, so a change of a few percent shows in one run, where CPU seconds need many.
// They leave out the kernel (the writes themselves), and a server under valgrind runs about 30 times slower, so
// they say nothing about latency.
// Usage: node bench/instructions.js [--subscribers 1000] [--warm 5000] [--measured 40] [--out <dir>] <server>...
//   (<dir>: the system's temporary directory's switchyard-instructions by default)
//   <server>: as for bench/pair.js (switchyard | ws | socket.io | "<label>=<build's dist/cli.js> [flag...]")
// Needs valgrind (Debian: apt-get install valgrind). Each server's counts stay in <dir> for callgrind_annotate.
// @ts-check

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openClient } from './lib/clients.js';
import { pause, round } from './lib/measure.js';
import { ServerProcess, fileNameOf, parseVariant } from './lib/server-process.js';

/** @typedef {import('./lib/clients.js').BenchClient} BenchClient */

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    subscribers: { type: 'string', default: '1000' }, warm: { type: 'string', default: '5000' },
    measured: { type: 'string', default: '40' }, out: { type: 'string' },
  },
});

/**
 * @param {string | undefined} text
 * @param {string} name
 * @param {number} max
 * @returns {number}
 */
function count(text, name, max) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
  return value;
}

const subscribers = count(values.subscribers, 'subscribers', 10_000);
const warm = count(values.warm, 'warm', 100_000);
const measured = count(values.measured, 'measured', 10_000);
const outDir = resolve(values.out ?? join(tmpdir(), 'switchyard-instructions'));
if (positionals.length === 0) throw new Error('name the servers to count, e.g.: switchyard ws');
const variants = positionals.map(parseVariant);
if (new Set(variants.map((variant) => variant.label)).size !== variants.length) throw new Error('give every server its own label');
try {
  execFileSync('callgrind_control', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('valgrind is not installed (Debian: apt-get install valgrind)');
}
mkdirSync(outDir, { recursive: true });

/** Time one publication may take to reach every subscriber under valgrind. */
const DELIVERY_TIMEOUT_MS = 120_000;
const CHANNEL = 'bench:instructions';
const WARM_CHANNEL = 'bench:instructions:warm';

/**
 * Count one server: its main thread's instructions over the measured publications.
 * @param {import('./lib/server-process.js').ServerVariant} variant
 * @returns {Promise<number>}
 */
async function countServer(variant) {
  const name = `${fileNameOf(variant.label)}.callgrind`;
  const file = join(outDir, name);
  // A count left by an earlier run must not stand in for this one's.
  for (const old of readdirSync(outDir).filter((entry) => entry.startsWith(name))) rmSync(join(outDir, old));
  const server = await ServerProcess.start(variant, {
    launcher: ['valgrind', '-q', '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', '--smc-check=all-non-file', `--callgrind-out-file=${file}`],
    startMs: 180_000,
  });
  /** @type {BenchClient[]} */
  const clients = [];
  try {
    let delivered = 0;
    const countDelivery = () => {
      delivered++;
    };
    /** @type {import('./lib/clients.js').ConnectOptions} */
    const connect = { kind: variant.kind, url: server.url, encoding: 'json', deflate: false, localAddress: '127.0.0.1' };
    const single = await openClient(connect);
    single.onDelivery = countDelivery;
    clients.push(single);
    await single.request('subscribe', { channel: WARM_CHANNEL });
    for (let i = 0; i < subscribers; i++) {
      const client = await openClient(connect);
      client.onDelivery = countDelivery;
      clients.push(client);
      await client.request('subscribe', { channel: CHANNEL });
    }
    const publisher = await openClient(connect);
    clients.push(publisher);
    /**
     * @param {string} channel
     * @param {number} publications
     * @param {number} each  subscribers of `channel`
     */
    const publish = async (channel, publications, each) => {
      for (let i = 0; i < publications; i++) {
        const target = delivered + each;
        await publisher.request('publish', { channel, data: { t: Date.now(), s: i, p: 'x'.repeat(60) } });
        const deadline = performance.now() + DELIVERY_TIMEOUT_MS;
        while (delivered < target && performance.now() < deadline) await pause(2);
        if (delivered < target) throw new Error(`${variant.label}: ${target - delivered} deliveries missing`);
      }
    };
    await publish(WARM_CHANNEL, warm, 1);
    await publish(CHANNEL, 10 * measured, subscribers);
    const control = (/** @type {string} */ option, /** @type {string} */ value) =>
      execFileSync('callgrind_control', value === '' ? [option, String(server.pid)] : [option, value, String(server.pid)], { stdio: 'ignore' });
    control('--instr', 'on');
    await publish(CHANNEL, measured, subscribers);
    control('--instr', 'off');
    control('--dump', '');
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    server.stop();
  }
  // The first dump's file for thread 1, the main thread: "totals:" is its instruction count.
  const deadline = performance.now() + 10_000;
  while (!existsSync(`${file}.1-01`) && performance.now() < deadline) await pause(100);
  const totals = /^totals: (\d+)/m.exec(readFileSync(`${file}.1-01`, 'utf8'));
  if (totals === null) throw new Error(`${variant.label}: no totals in ${file}.1-01`);
  return Number(totals[1]);
}

/** @type {Array<{ label: string; perPublication: number }>} */
const rows = [];
for (const variant of variants) {
  process.stdout.write(`${variant.label}: under callgrind, ${subscribers} subscribers, ${warm} publications to warm up, ${measured} counted\n`);
  rows.push({ label: variant.label, perPublication: (await countServer(variant)) / measured });
}
const base = rows.find((row) => row.label === 'ws') ?? rows[0];
process.stdout.write(`\nMain-thread instructions, ${subscribers} subscribers on one channel (callgrind; files in ${outDir})\n\n`);
process.stdout.write('| server | per publication | per delivery | vs ' + (base?.label ?? '') + ' |\n| --- | ---: | ---: | ---: |\n');
for (const row of rows) {
  const vs = base === undefined ? 1 : row.perPublication / base.perPublication;
  process.stdout.write(`| ${row.label} | ${Math.round(row.perPublication)} | ${Math.round(row.perPublication / subscribers)} | ${round(vs, 3)} |\n`);
}
