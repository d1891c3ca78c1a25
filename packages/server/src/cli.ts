#!/usr/bin/env node
// The `switchyard` command: a thin layer over createSwitchyard() with config from file, env and flags.

import { Command, Option } from 'commander';
import { coerce, mergeLayers, parseNamespaces, readConfigFile, readEnvironment, toEnvName, toKebab } from './config.js';
import { defaultOptions, optionDescriptions, OptionsError, type SwitchyardOptions } from './options.js';
import { createSwitchyard } from './switchyard.js';
import { VERSION } from './version.js';

type OptionKey = keyof SwitchyardOptions;

function buildProgram(): Command {
  const program = new Command('switchyard')
    .description('Switchyard: a real-time messaging server on WebSockets (channels, presence, history, recovery, cluster).')
    .version(VERSION)
    .option('-c, --config <file>', 'JSON config file (defaults < config file < environment < flags)')
    .addHelpText('after', `
Every option can also be set in the environment as SWITCHYARD_<NAME> (e.g. ${toEnvName('maxPayload')}=2097152);
PORT and HOST are honoured too. Namespaces: --namespace 'chat:presence=true,joinLeave=true' (repeatable).
Docs: docs/configuration.md`);
  for (const key of Object.keys(defaultOptions) as OptionKey[]) {
    if (key === 'namespaces') continue;
    const sample = defaultOptions[key];
    const flag = toKebab(key);
    const description = optionDescriptions[key];
    if (typeof sample === 'boolean') {
      program.addOption(new Option(`--${flag}`, `${description} (default: ${sample})`));
      program.addOption(new Option(`--no-${flag}`, `turn off: ${description}`).hideHelp(sample === false));
    } else {
      const shown = sample === undefined ? '' : ` (default: ${Array.isArray(sample) ? sample.join(',') : String(sample)})`;
      program.addOption(new Option(`--${flag} <value>`, `${description}${shown}`));
    }
  }
  program.addOption(new Option('--namespace <spec...>', optionDescriptions.namespaces));
  return program;
}

/** Options from parsed flags, only those given on the command line. */
function flagsToOptions(program: Command): Partial<Record<OptionKey, unknown>> {
  const values = program.opts<Record<string, unknown>>();
  const raw: Partial<Record<OptionKey, unknown>> = {};
  for (const key of Object.keys(defaultOptions) as OptionKey[]) {
    if (key === 'namespaces' || program.getOptionValueSource(key) !== 'cli') continue;
    const value = values[key];
    raw[key] = typeof value === 'string' ? coerce(key, value, `--${toKebab(key)}`) : value;
  }
  const specs = values['namespace'];
  if (Array.isArray(specs)) raw.namespaces = parseNamespaces(specs as string[], '--namespace');
  return raw;
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.parse();
  const configPath = program.opts<{ config?: string }>().config;
  let options: Partial<SwitchyardOptions>;
  try {
    options = mergeLayers(configPath === undefined ? {} : readConfigFile(configPath), readEnvironment(process.env), flagsToOptions(program));
  } catch (error) {
    if (error instanceof OptionsError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let server;
  try {
    server = createSwitchyard(options);
  } catch (error) {
    if (error instanceof OptionsError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      server.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    server.close().then(() => process.exit(0), (error: unknown) => {
      server.logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await server.listen();
  } catch (error) {
    server.logger.fatal({ err: error }, 'could not start');
    process.exit(1);
  }
}

void main();
