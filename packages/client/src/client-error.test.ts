// Unit tests of ClientError: protocol codes pass through, anything else is `internal`; the guide lists every code.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@switchyard/protocol';
import { ClientError, type ClientErrorCode } from './client-error.js';

describe('ClientError', () => {
  it('keeps every protocol error code of an error frame', () => {
    for (const code of ERROR_CODES) {
      const error = ClientError.fromFrame({ code, message: `about ${code}` });
      expect([error.code, error.message, error.name]).toEqual([code, `about ${code}`, 'ClientError']);
      expect(error).toBeInstanceOf(Error);
    }
  });

  it('turns an unknown or missing code into internal, and keeps retryAfterMs', () => {
    expect(ClientError.fromFrame({ code: 'made_up', message: 'x' }).code).toBe('internal');
    expect(ClientError.fromFrame(null).code).toBe('internal');
    expect(ClientError.fromFrame({ code: 'rate_limited', message: 'slow', retryAfterMs: 120 }).retryAfterMs).toBe(120);
  });

  it('has its client-side codes documented in docs/client.md', () => {
    const guide = readFileSync(new URL('../../../docs/client.md', import.meta.url), 'utf8');
    const clientSide: ClientErrorCode[] = ['timeout', 'closed', 'queue_full'];
    for (const code of clientSide) expect(guide).toContain(`- \`${code}\`:`);
  });
});
