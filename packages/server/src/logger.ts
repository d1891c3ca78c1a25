// pino logger: JSON lines, pretty-printed when stdout is a terminal.

import { pino, type Logger } from 'pino';

/** A logger at `level`; pretty output when `pretty` (default: stdout is a TTY). */
export function createLogger(level: string, pretty: boolean = process.stdout.isTTY === true): Logger {
  if (pretty && level !== 'silent') {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino({ level });
}

export type { Logger };
