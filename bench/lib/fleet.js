// Opening many client connections spread over several generator processes and source addresses.
// @ts-check

/**
 * @typedef {object} RunContext
 * @property {boolean} quick
 * @property {import('./measure.js').AddressPool} addresses
 * @property {(line: string) => void} log
 */

/**
 * @typedef {object} SpreadOptions
 * @property {import('./generator-pool.js').GeneratorPool} pool
 * @property {number[]} generators     which generators share the connections
 * @property {import('./server-process.js').ServerProcess} server
 * @property {number} total            connections to open over all of them
 * @property {number} firstIndex       global index of the first new connection
 * @property {'json' | 'msgpack'} [encoding]
 * @property {boolean} [deflate]
 * @property {string[]} [channels]
 * @property {number} [sampleEvery]
 * @property {number} [concurrency]    handshakes in flight per generator
 */

/**
 * Open `total` connections, split evenly over the generators; throws when some failed.
 * @param {RunContext} ctx
 * @param {SpreadOptions} options
 * @returns {Promise<{ opened: number; ms: number }>}
 */
export async function openSpread(ctx, options) {
  const { pool, generators, server, total } = options;
  const share = Math.ceil(total / generators.length);
  const started = performance.now();
  const results = await pool.callEach(generators, 'connect', (_index, position) => {
    const count = Math.max(0, Math.min(share, total - position * share));
    return {
      kind: server.variant.kind,
      url: server.url,
      count,
      firstIndex: options.firstIndex + position * share,
      addresses: ctx.addresses.take(count),
      concurrency: options.concurrency ?? 64,
      encoding: options.encoding ?? 'json',
      deflate: options.deflate ?? false,
      channels: options.channels,
      sampleEvery: options.sampleEvery,
    };
  });
  const opened = results.reduce((sum, result) => sum + result.opened, 0);
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  if (failed > 0) {
    const reason = results.find((result) => result.firstError !== undefined)?.firstError;
    throw new Error(`${server.variant.label}: ${failed} of ${total} connections failed (${reason})`);
  }
  return { opened, ms: performance.now() - started };
}

/**
 * Close every connection the generators hold.
 * @param {import('./generator-pool.js').GeneratorPool} pool
 * @returns {Promise<Record<string, number>>} close codes seen, with counts
 */
export async function closeEverything(pool) {
  const results = await pool.callEach(Array.from({ length: pool.size }, (_, index) => index), 'closeAll', () => ({}));
  /** @type {Record<string, number>} */
  const codes = {};
  for (const result of results) for (const [code, count] of Object.entries(/** @type {Record<string, number>} */ (result.codes))) codes[code] = (codes[code] ?? 0) + count;
  return codes;
}
