// Configuration sources, merged: defaults < config file < environment < command-line flags.

import { readFileSync } from 'node:fs';
import { defaultOptions, namespaceOptionsSchema, OptionsError, type NamespaceOptions, type SwitchyardOptions } from './options.js';

type OptionKey = keyof SwitchyardOptions;
type Raw = Partial<Record<OptionKey, unknown>>;

/** `maxPayload` → `max-payload`. */
export function toKebab(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** `maxPayload` → `SWITCHYARD_MAX_PAYLOAD`. */
export function toEnvName(key: string): string {
  return `SWITCHYARD_${key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`;
}

/** Convert one text value (env or flag) to the type of option `key`; throws OptionsError naming `source`. */
export function coerce(key: OptionKey, text: string, source: string): unknown {
  const sample = defaultOptions[key];
  if (key === 'allowedOrigins' || key === 'trustedProxies') return text.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  if (key === 'namespaces') return parseNamespaces([text], source);
  if (typeof sample === 'number') {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new OptionsError([`${source}: "${text}" is not a number`]);
    return value;
  }
  if (typeof sample === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    throw new OptionsError([`${source}: "${text}" is not a boolean (true/false)`]);
  }
  return text;
}

/** Parse `name:key=value,key=value` namespace specs. */
export function parseNamespaces(specs: string[], source: string): Record<string, Partial<NamespaceOptions>> {
  const namespaces: Record<string, Partial<NamespaceOptions>> = {};
  const shape = namespaceOptionsSchema.shape;
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    if (colon < 0) throw new OptionsError([`${source}: "${spec}" must look like name:key=value,key=value`]);
    const name = spec.slice(0, colon);
    const entry: Record<string, unknown> = { ...namespaces[name] };
    for (const pair of spec.slice(colon + 1).split(',').filter((part) => part.length > 0)) {
      const [key, value] = pair.split('=');
      if (key === undefined || value === undefined || !Object.hasOwn(shape, key)) {
        throw new OptionsError([`${source}: "${pair}" is not key=value with a namespace option (${Object.keys(shape).join(', ')})`]);
      }
      if (value === 'null') entry[key] = null;
      else if (/^(true|false)$/.test(value)) entry[key] = value === 'true';
      else if (/^\d+$/.test(value)) entry[key] = Number(value);
      else throw new OptionsError([`${source}: "${value}" is not a valid value for ${key}`]);
    }
    namespaces[name] = entry as Partial<NamespaceOptions>;
  }
  return namespaces;
}

/** Options from a JSON config file. */
export function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OptionsError([`config file ${path}: ${(error as Error).message}`]);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must hold a JSON object');
    return value as Raw;
  } catch (error) {
    throw new OptionsError([`config file ${path}: ${(error as Error).message}`]);
  }
}

/** Options from the environment: `PORT`, `HOST`, `SWITCHYARD_REDIS_URL`, and `SWITCHYARD_<OPTION>` for every option. */
export function readEnvironment(env: NodeJS.ProcessEnv): Raw {
  const raw: Raw = {};
  for (const key of Object.keys(defaultOptions) as OptionKey[]) {
    const name = toEnvName(key);
    const text = env[name];
    if (text !== undefined && text !== '') raw[key] = coerce(key, text, name);
  }
  if (env['PORT'] !== undefined && env['PORT'] !== '' && env[toEnvName('port')] === undefined) raw.port = coerce('port', env['PORT'], 'PORT');
  if (env['HOST'] !== undefined && env['HOST'] !== '' && env[toEnvName('host')] === undefined) raw.host = env['HOST'];
  const redisUrl = env['SWITCHYARD_REDIS_URL'];
  if (redisUrl !== undefined && redisUrl !== '' && env[toEnvName('redis')] === undefined) raw.redis = redisUrl;
  return raw;
}

/** Merge the layers; later layers win, and namespace maps merge per namespace. */
export function mergeLayers(...layers: Raw[]): Partial<SwitchyardOptions> {
  const merged: Raw = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer) as Array<[OptionKey, unknown]>) {
      if (value === undefined) continue;
      if (key === 'namespaces' && typeof value === 'object' && value !== null) {
        const current = (merged.namespaces ?? {}) as Record<string, object>;
        const next: Record<string, object> = { ...current };
        for (const [name, options] of Object.entries(value as Record<string, object>)) next[name] = { ...current[name], ...options };
        merged.namespaces = next;
      } else merged[key] = value;
    }
  }
  return merged as Partial<SwitchyardOptions>;
}
