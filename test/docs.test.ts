// The registries, the exported types and the docs agree (errors, close codes, options).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloseCodes, ERROR_CODES, ErrorCodes, type ErrorCode } from '@switchyard/protocol';
import { defaultOptions, namespaceDefaults, optionDescriptions } from 'switchyard';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The first-column codes of a Markdown table's rows: `| \`code\` | …`. */
function tableKeys(markdown: string): string[] {
  return [...markdown.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]!);
}

describe('Docs agree with the code', () => {
  it('docs/errors.md lists exactly the error registry, with its HTTP statuses', () => {
    const doc = read('docs/errors.md');
    expect(tableKeys(doc)).toEqual([...ERROR_CODES]);
    for (const code of ERROR_CODES) {
      expect(doc).toMatch(new RegExp(`^\\| \`${code}\` \\| ${ErrorCodes[code].httpStatus} \\|`, 'm'));
    }
  });

  it('each registry entry\'s key equals its code and the ErrorCode type covers them', () => {
    const typed: ErrorCode[] = ['bad_json', 'invalid_message', 'unknown_type', 'payload_too_large', 'unauthorized', 'forbidden', 'rate_limited', 'invalid_channel', 'not_subscribed', 'not_found', 'conflict', 'unavailable', 'internal'];
    expect([...ERROR_CODES].sort()).toEqual([...typed].sort());
  });

  it('docs/protocol.md lists every close code', () => {
    const doc = read('docs/protocol.md');
    for (const code of Object.values(CloseCodes)) expect(doc).toMatch(new RegExp(`^\\| ${code}( |/)`, 'm'));
  });

  it('docs/configuration.md documents every option and every namespace option', () => {
    const keys = tableKeys(read('docs/configuration.md'));
    for (const key of Object.keys(defaultOptions)) expect(keys).toContain(key);
    for (const key of Object.keys(namespaceDefaults)) expect(keys).toContain(key);
    expect(Object.keys(optionDescriptions).sort()).toEqual(Object.keys(defaultOptions).sort());
  });

  it('the README links to the protocol, configuration and errors docs', () => {
    const readme = read('README.md');
    for (const doc of ['docs/protocol.md', 'docs/configuration.md', 'docs/errors.md']) expect(readme).toContain(doc);
  });
});
