// Starts the built `switchyard` command as a child process and waits until it listens.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI (scripts/test.sh builds before the tests run). */
export const CLI = fileURLToPath(new URL('../../packages/server/dist/cli.js', import.meta.url));

/** A started CLI process. */
export interface CliProcess {
  child: ChildProcess;
  port: number;
  nodeId: string;
}

/** Start the CLI with `args` and extra `env`; resolves once it logs "Switchyard listening". Record the child in `children`. */
export function startCli(args: string[], env: Record<string, string>, children: ChildProcess[]): Promise<CliProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`CLI did not start: ${output}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('Switchyard listening')) continue;
        const entry = JSON.parse(line) as { url: string; nodeId: string };
        clearTimeout(timer);
        resolve({ child, port: Number(new URL(entry.url).port), nodeId: entry.nodeId });
        return;
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('exit', (code, signal) => reject(new Error(`CLI exited (${code ?? signal}): ${output}`)));
  });
}

/** SIGKILL every child that is still running. */
export function killAll(children: ChildProcess[]): void {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
