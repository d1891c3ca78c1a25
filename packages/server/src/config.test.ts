import { describe, expect, it } from 'vitest';
import { coerce, mergeLayers, parseNamespaces, readEnvironment, toEnvName, toKebab } from './config.js';
import { OptionsError, resolveOptions } from './options.js';

describe('Config', () => {
  it('names flags and environment variables after the options', () => {
    expect(toKebab('maxConnectionsPerIp')).toBe('max-connections-per-ip');
    expect(toEnvName('maxConnectionsPerIp')).toBe('SWITCHYARD_MAX_CONNECTIONS_PER_IP');
  });

  it('reads PORT, HOST and SWITCHYARD_* with their types; SWITCHYARD_PORT beats PORT', () => {
    expect(readEnvironment({ PORT: '8080', HOST: '127.0.0.1', SWITCHYARD_DEMO: 'false', SWITCHYARD_ALLOWED_ORIGINS: 'https://a, https://b' })).toEqual({
      port: 8080, host: '127.0.0.1', demo: false, allowedOrigins: ['https://a', 'https://b'],
    });
    expect(readEnvironment({ PORT: '1', SWITCHYARD_PORT: '2' }).port).toBe(2);
  });

  it('refuses values of the wrong type, naming their source', () => {
    expect(() => coerce('port', 'eighty', 'PORT')).toThrow(OptionsError);
    expect(() => coerce('port', 'eighty', 'PORT')).toThrow(/PORT/);
    expect(() => coerce('demo', 'maybe', '--demo')).toThrow(/boolean/);
  });

  it('parses namespace specs and merges namespaces per name across layers', () => {
    expect(parseNamespaces(['prices:publish=false,historySize=10', 'open:anonymous=true'], '--namespace')).toEqual({
      prices: { publish: false, historySize: 10 }, open: { anonymous: true },
    });
    expect(() => parseNamespaces(['x:colour=red'], '--namespace')).toThrow(/colour/);
    const merged = mergeLayers({ namespaces: { a: { presence: true } }, port: 1 }, { namespaces: { a: { historySize: 5 } }, port: 2 });
    expect(merged).toEqual({ namespaces: { a: { presence: true, historySize: 5 } }, port: 2 });
  });

  it('resolves options over the defaults and refuses unknown or conflicting ones', () => {
    expect(resolveOptions({ port: 0 }).maxPayload).toBe(1_048_576);
    expect(() => resolveOptions({ colour: 'red' } as never)).toThrow(/colour/);
    expect(() => resolveOptions({ auth: 'required' })).toThrow(/needs one of jwtSecret/);
    expect(() => resolveOptions({ tlsKey: 'k.pem' })).toThrow(/tlsCert and tlsKey/);
    expect(resolveOptions({ trustedProxies: ['10.0.0.0/8', 'loopback', '::1'] }).trustedProxies).toHaveLength(3);
    expect(() => resolveOptions({ trustedProxies: ['not-an-address'] })).toThrow(/trustedProxies/);
  });
});
