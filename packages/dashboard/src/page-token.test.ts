// Unit tests of reading the token from the URL fragment.

import { describe, expect, it } from 'vitest';
import { pageToken } from './page-token';

describe('pageToken', () => {
  it('reads token from the fragment', () => {
    expect(pageToken('#token=abc.def.ghi')).toBe('abc.def.ghi');
    expect(pageToken('#room=lobby&token=t1')).toBe('t1');
  });

  it('is undefined without a token', () => {
    expect(pageToken('')).toBeUndefined();
    expect(pageToken('#token=')).toBeUndefined();
    expect(pageToken('#other=1')).toBeUndefined();
  });
});
