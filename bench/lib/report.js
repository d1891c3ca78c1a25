// Turns one run's results into Markdown: the headline per server CPU-second with ratios and the
// issue's targets, then every scenario's detail.
// @ts-check

/**
 * @typedef {import('../scenarios/fan-out.js').FanOutResult & { scenario: string; server: string; encoding: 'json' | 'msgpack' }} FanOutRow
 */

/**
 * @typedef {object} BenchResults
 * @property {string} startedAt
 * @property {string} finishedAt
 * @property {boolean} quick
 * @property {number} [rounds]  rounds measured; every figure is the median of its rounds
 * @property {Record<string, Array<number | null>>} [roundRatiosVsWs]  each headline's switchyard / ws in each round
 * @property {string} [source]  git commit of the measured code
 * @property {{ cpus: number; cpuModel: string; memoryBytes: number; node: string; openFileLimit: number; loadAverageAtStart: number[] }} machine
 * @property {Record<string, import('../scenarios/idle.js').IdleResult>} idle
 * @property {Record<string, import('../scenarios/echo.js').EchoResult[]>} echo
 * @property {FanOutRow[]} fanOut
 * @property {Record<string, import('../scenarios/slow-consumer.js').SlowConsumerResult>} slowConsumer
 */

/**
 * One headline figure for the three servers.
 * @typedef {object} Headline
 * @property {string} name
 * @property {string} unit
 * @property {boolean} lowerIsBetter
 * @property {Record<string, number | null>} values   by server label
 * @property {{ vsWs?: number; vsSocketIo?: number; description: string }} [target]
 */

/** The label of the second plain-`ws` server in the fan-out scenarios (see `control` in run.js). */
export const CONTROL = 'ws (control)';
const SERVERS = ['switchyard', 'ws', 'socket.io', CONTROL];

/**
 * @param {BenchResults} results
 * @param {string} scenario
 * @param {string} server
 * @param {'json' | 'msgpack'} [encoding]
 */
function fanOutRow(results, scenario, server, encoding = 'json') {
  return results.fanOut.find((row) => row.scenario === scenario && row.server === server && row.encoding === encoding);
}

/**
 * The figures the issue's targets are about, per server.
 * @param {BenchResults} results
 * @returns {Headline[]}
 */
export function headlines(results) {
  /** @type {Headline[]} */
  const lines = [];
  /**
   * @param {Omit<Headline, 'values'>} line
   * @param {(server: string) => number | null | undefined} read
   */
  const add = (line, read) => {
    /** @type {Record<string, number | null>} */
    const values = {};
    let any = false;
    for (const server of SERVERS) {
      const value = read(server);
      values[server] = value ?? null;
      if (value !== undefined && value !== null) any = true;
    }
    if (any) lines.push({ ...line, values });
  };
  const fanOutScenarios = [...new Set(results.fanOut.map((row) => row.scenario))];
  for (const scenario of fanOutScenarios) {
    const single = scenario.startsWith('fanout');
    add({
      name: `${scenario}: deliveries per server CPU-second`, unit: '/cpu-s', lowerIsBetter: false,
      ...(single ? { target: { vsWs: 1.0, vsSocketIo: 3.0, description: '≥ 1.0× ws and ≥ 3× socket.io' } } : {}),
    }, (server) => fanOutRow(results, scenario, server)?.saturated.perCpuSecond);
    add({ name: `${scenario}: deliveries per second (saturated)`, unit: '/s', lowerIsBetter: false },
      (server) => fanOutRow(results, scenario, server)?.saturated.perSecond);
    add({
      name: `${scenario}: publish-to-deliver p99, same offered load (ms)`, unit: 'ms', lowerIsBetter: true,
      target: { vsWs: 1.0, description: 'no worse than ws' },
    }, (server) => fanOutRow(results, scenario, server)?.paced.latencyMs.p99);
    add({ name: `${scenario}: publish-to-deliver p99, saturated (ms)`, unit: 'ms', lowerIsBetter: true },
      (server) => fanOutRow(results, scenario, server)?.saturated.latencyMs.p99);
  }
  add({
    name: 'handshakes per server CPU-second', unit: '/cpu-s', lowerIsBetter: false,
    target: { vsWs: 0.85, description: '≥ 0.85× ws' },
  }, (server) => results.idle[server]?.handshakes.perCpuSecond);
  for (const [index, clients] of [[0, 1], [1, 100]]) {
    add({
      name: `echo, ${clients} client${clients === 1 ? '' : 's'}: round trips per server CPU-second`, unit: '/cpu-s', lowerIsBetter: false,
      ...(clients === 100 ? { target: { vsWs: 0.85, description: '≥ 0.85× ws' } } : {}),
    }, (server) => results.echo[server]?.[index ?? 0]?.perCpuSecond);
  }
  add({
    name: 'idle: RSS per connection, marginal at the largest step (bytes)', unit: 'B', lowerIsBetter: true,
    target: { vsWs: 1.25, description: '≤ 1.25× ws' },
  }, (server) => results.idle[server]?.levels.at(-1)?.marginalRss);
  add({ name: 'idle: V8 heap per connection, marginal at the largest step (bytes)', unit: 'B', lowerIsBetter: true },
    (server) => results.idle[server]?.levels.at(-1)?.marginalHeap);
  return lines;
}

/**
 * @param {number | null | undefined} value
 * @returns {string}
 */
function figure(value) {
  if (value === null || value === undefined) return '–';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return String(Math.round(value * 100) / 100);
}

/**
 * @param {number | null | undefined} a
 * @param {number | null | undefined} b
 * @returns {number | null}
 */
function ratio(a, b) {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

/**
 * Whether Switchyard met a target, or null when a figure is missing.
 * @param {Headline} line
 * @returns {boolean | null}
 */
export function targetMet(line) {
  const target = line.target;
  if (target === undefined) return null;
  const checks = [];
  const mine = line.values['switchyard'];
  if (target.vsWs !== undefined) {
    const r = ratio(mine, line.values['ws']);
    if (r === null) return null;
    checks.push(line.lowerIsBetter ? r <= target.vsWs : r >= target.vsWs);
  }
  if (target.vsSocketIo !== undefined) {
    const r = ratio(mine, line.values['socket.io']);
    if (r === null) return null;
    checks.push(line.lowerIsBetter ? r <= target.vsSocketIo : r >= target.vsSocketIo);
  }
  return checks.every(Boolean);
}

/**
 * The "met" cell: yes, no, or a miss no larger than the gap between the two identical `ws` servers.
 * @param {Headline} line
 * @returns {string}
 */
function verdict(line) {
  const met = targetMet(line);
  if (met === null) return '';
  if (met) return 'yes';
  return withinControl(line) ? '**no** (within the control\'s spread)' : '**no**';
}

/**
 * Whether Switchyard's miss of a `ws` target is no larger than the control's own distance from `ws`
 * (the same server measured twice): Switchyard then lies between the two, or on the control's side.
 * @param {Headline} line
 * @returns {boolean}
 */
export function withinControl(line) {
  const target = line.target?.vsWs;
  const mine = ratio(line.values['switchyard'], line.values['ws']);
  const control = ratio(line.values[CONTROL], line.values['ws']);
  if (target === undefined || mine === null || control === null) return false;
  return line.lowerIsBetter ? mine <= Math.max(target, control) : mine >= Math.min(target, control);
}

/**
 * @param {string[]} cells
 * @returns {string}
 */
const row = (cells) => `| ${cells.join(' | ')} |\n`;

/**
 * @param {import('./measure.js').Window} window
 * @returns {string}
 */
function load(window) {
  // Medians of an even number of rounds fall between two readings: one decimal is all these say.
  const one = (/** @type {number | undefined} */ value) => Math.round((value ?? 0) * 10) / 10;
  const steal = one(window.machine.stealPercent);
  return `${one(window.serverCpuPercent)}% / ${one(window.machine.cpuBusyPercent)}% (${Math.round((window.machine.loadavg[0] ?? 0) * 100) / 100}${steal > 0 ? `, steal ${steal}%` : ''})`;
}

/**
 * The whole Markdown report of one run.
 * @param {BenchResults} results
 * @returns {string}
 */
export function renderMarkdown(results) {
  const { machine } = results;
  let text = `# Switchyard benchmark — ${results.startedAt}${results.quick ? ' (quick)' : ''}\n\n`;
  text += `${machine.cpus} × ${machine.cpuModel}, ${Math.round(machine.memoryBytes / 2 ** 30)} GiB, Node ${machine.node}, open-file limit ${machine.openFileLimit}, load average at the start ${machine.loadAverageAtStart.join(' / ')} (1 / 5 / 15 min). `;
  if (results.source !== undefined) text += `Code: ${results.source}. `;
  text += 'Every server and every load generator runs in its own process on this machine (loopback). ';
  text += '"per CPU-s" divides by the server process\'s own user+system CPU time from /proc, so figures stay fair when the generators share the cores.\n\n';

  const rounds = results.rounds ?? 1;
  const spread = results.roundRatiosVsWs;
  if (rounds > 1) {
    text += `Every figure is the **median of ${rounds} rounds**; in each round the servers ran one after another. `;
    text += 'Paced latencies are the exception: tail percentiles need many samples, so they pool every paced window of every round. ';
    text += 'The column "sy / ws by round" shows each round\'s own ratio, for how far the rounds spread.\n\n';
  }
  text += '## Headline (Switchyard against plain ws and Socket.IO)\n\n';
  const lines = headlines(results);
  const controlled = lines.some((line) => line.values[CONTROL] !== null);
  if (controlled) {
    text += `The fan-out scenarios also run a second, identical plain-ws server ("${CONTROL}"). Column "control / ws" is how far two runs of the same server land apart in the same run: a Switchyard / ws ratio that close to 1.0 is inside what this machine can resolve. A target missed by no more than that says "no (within the control's spread)".\n\n`;
  }
  const header = ['figure', 'switchyard', 'ws', 'socket.io', 'sy / ws', ...(spread ? ['sy / ws by round'] : []), ...(controlled ? ['control / ws'] : []), 'sy / socket.io', 'target', 'met'];
  text += row(header);
  text += row(header.map((name) => (name === 'figure' || name === 'target' || name === 'met' || name === 'sy / ws by round' ? '---' : '---:')));
  for (const line of lines) {
    const byRound = spread?.[line.name]?.map((value) => figure(value === null ? null : Math.round(value * 100) / 100)).join(', ') ?? '';
    text += row([
      line.name,
      figure(line.values['switchyard']), figure(line.values['ws']), figure(line.values['socket.io']),
      figure(ratio(line.values['switchyard'], line.values['ws'])), ...(spread ? [byRound] : []),
      ...(controlled ? [figure(ratio(line.values[CONTROL], line.values['ws']))] : []),
      figure(ratio(line.values['switchyard'], line.values['socket.io'])),
      line.target?.description ?? '',
      verdict(line),
    ]);
  }

  const idleServers = Object.keys(results.idle);
  if (idleServers.length > 0) {
    text += '\n## Idle connections and handshakes\n\n';
    text += 'Memory after two forced GCs in the server. "per conn" = (value − value with no connection) / connections; "marginal" = growth since the previous level / connections added.\n\n';
    text += row(['server', 'connections', 'RSS MiB', 'RSS per conn', 'RSS marginal', 'heap MiB', 'heap per conn', 'heap marginal']);
    text += row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']);
    for (const server of idleServers) {
      for (const level of results.idle[server]?.levels ?? []) {
        text += row([server, figure(level.connections), figure(level.rssBytes / 2 ** 20), figure(level.rssPerConnection), figure(level.marginalRss),
          figure(level.heapBytes / 2 ** 20), figure(level.heapPerConnection), figure(level.marginalHeap)]);
      }
    }
    text += '\n' + row(['server', 'handshakes', 'per second', 'per server CPU-s', 'server CPU / machine busy (load1)']);
    text += row(['---', '---:', '---:', '---:', '---']);
    for (const server of idleServers) {
      const hs = results.idle[server]?.handshakes;
      if (hs !== undefined) text += row([server, figure(hs.handshakes), figure(hs.perSecond), figure(hs.perCpuSecond), load(hs.window)]);
    }
  }

  const echoServers = Object.keys(results.echo);
  if (echoServers.length > 0) {
    text += '\n## Echo round trips (closed loop, 64-byte payload)\n\n';
    text += row(['server', 'clients', 'round trips/s', 'per server CPU-s', 'p50 ms', 'p99 ms', 'server CPU / machine busy (load1)']);
    text += row(['---', '---:', '---:', '---:', '---:', '---:', '---']);
    for (const server of echoServers) {
      for (const echo of results.echo[server] ?? []) {
        text += row([server, String(echo.clients), figure(echo.perSecond), figure(echo.perCpuSecond), figure(echo.latencyMs.p50), figure(echo.latencyMs.p99), load(echo.window)]);
      }
    }
  }

  if (results.fanOut.length > 0) {
    text += '\n## Fan-out and many channels\n\n';
    text += 'Saturated: one publisher (ten for many channels) with at most 8 unacknowledged publishes per connection and at most 8 deliveries owed per subscriber (averaged within the slowest generator process); ~100-byte payloads. ';
    text += 'Paced: the same offered load for every server, in turns that the servers take one after another, in an order that rotates and reverses from turn to turn, all of them up at once with their clients connected, so that other load on the machine weighs on all alike. A turn is a 1 s window at 20,000 deliveries/s (6 per round); at 10k subscribers it is a single publication and 400 ms for it to reach everyone (30 per round). Latency = receive time − send time embedded in the payload, measured on every 10th subscriber.\n\n';
    text += row(['scenario', 'server', 'encoding', 'deliveries/s', 'per server CPU-s', 'p50 ms', 'p99 ms', 'max ms', 'paced p50', 'paced p99', 'paced max', 'server CPU / machine busy (load1)', 'closes']);
    text += row(['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---']);
    for (const fan of results.fanOut) {
      const closes = Object.entries(fan.unexpectedCloses).map(([code, count]) => `${code}×${count}`).join(' ');
      text += row([fan.scenario, fan.server, fan.encoding, figure(fan.saturated.perSecond), figure(fan.saturated.perCpuSecond),
        figure(fan.saturated.latencyMs.p50), figure(fan.saturated.latencyMs.p99), figure(fan.saturated.latencyMs.max),
        figure(fan.paced.latencyMs.p50), figure(fan.paced.latencyMs.p99), figure(fan.paced.latencyMs.max), load(fan.saturated.window), closes || 'none']);
    }
  }

  const slowServers = Object.keys(results.slowConsumer);
  if (slowServers.length > 0) {
    text += '\n## Slow consumer (one subscriber stops reading; 2 KiB publications)\n\n';
    text += 'Published while the subscriber does not read. "Buffers held" = growth of the server\'s Buffer memory after GC once publishing is over: what it still keeps for that subscriber. RSS includes garbage of the publishing itself, so its peak says less.\n\n';
    text += row(['server', 'published MiB', 'buffers held MiB', 'server RSS before MiB', 'RSS peak growth MiB', 'RSS after (GC) MiB', 'closed as slow consumer', 'subscriber saw']);
    text += row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---']);
    for (const server of slowServers) {
      const slow = results.slowConsumer[server];
      if (slow === undefined) continue;
      text += row([server, figure(slow.publishedBytes / 2 ** 20), figure(slow.heldBuffers / 2 ** 20), figure(slow.baselineRss / 2 ** 20), figure(slow.growthBytes / 2 ** 20),
        figure(slow.afterRss / 2 ** 20), slow.slowConsumersClosed === null ? 'n/a' : String(slow.slowConsumersClosed), slow.subscriberClose]);
    }
  }
  text += `\nRun from ${results.startedAt} to ${results.finishedAt}. Columns "server CPU / machine busy" give the server's CPU (100% = one core), all CPUs busy over the window (every process), and the 1-minute load average.\n`;
  return text;
}
