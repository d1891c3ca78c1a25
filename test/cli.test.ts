// Integration: the built `switchyard` command — help, config layering, bad values, signals.

import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, killAll, startCli } from './helpers/cli-process.js';
import { TestClient } from './helpers/ws-client.js';

const children: ChildProcess[] = [];

afterEach(() => killAll(children));

describe('CLI', () => {
  it('--help lists every option with its default and the environment convention', () => {
    const result = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    for (const flag of ['--port <value>', '--host <value>', '--max-payload <value>', '--no-demo', '--heartbeat-ms <value>', '--send-high-water-mark <value>', '--redis <value>', '--jwt-secret <value>', '--config <file>']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('(default: 3003)');
    expect(result.stdout).toContain('SWITCHYARD_');
  });

  it.each([
    [['--port', 'abc'], {}, '--port'],
    [['--max-payload', '-5'], {}, 'maxPayload'],
    [['--auth', 'sometimes'], {}, 'auth'],
    [[], { SWITCHYARD_HEARTBEAT_MS: 'soon' }, 'SWITCHYARD_HEARTBEAT_MS'],
    [[], { PORT: '70000' }, 'port'],
    [['--tls-cert', 'only-cert.pem'], {}, 'tlsCert and tlsKey'],
  ] as Array<[string[], Record<string, string>, string]>)('refuses bad values at start, naming them (%j %j)', (args, env, named) => {
    const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(named);
  });

  it('honours PORT and HOST, and flags beat environment beats config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ name: 'from-file', heartbeatMs: 11_000, maxPayload: 5000 }));
    const { child, port } = await startCli(['--config', config, '--name', 'from-flag', '--no-demo', '--log-level', 'info'], { PORT: '0', HOST: '127.0.0.1', SWITCHYARD_HEARTBEAT_MS: '12000' }, children);
    const client = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
    const welcome = (await client.welcome).data as { heartbeatMs: number; server: { name: string } };
    expect(welcome.server.name).toBe('from-flag');
    expect(welcome.heartbeatMs).toBe(12_000);
    client.send({ type: 'echo', data: 'x'.repeat(6000) });
    expect((await client.closed).code).toBe(1009);
    expect((await fetch(`http://127.0.0.1:${port}/events`)).status).toBe(404);
    child.kill('SIGTERM');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('on %s closes clients with 1001 and exits 0', async (signal) => {
    const { child, port } = await startCli(['--port', '0', '--host', '127.0.0.1'], {}, children);
    const client = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill(signal);
    expect((await client.closed).code).toBe(1001);
    expect(await exited).toBe(0);
  });
});
