// JWT verification with jose: HS256 secret, RS256/ES256 public key file, or a JWKS URL.

import { readFileSync } from 'node:fs';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { SwitchyardError } from '../errors.js';
import type { Authenticator, ChannelPermissions, Identity } from './identity.js';

/** Where keys come from and which claims must match. */
export interface JwtOptions {
  jwtSecret?: string | undefined;
  jwtPublicKeyFile?: string | undefined;
  jwksUrl?: string | undefined;
  jwtAudience?: string | undefined;
  jwtIssuer?: string | undefined;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((item): item is string => typeof item === 'string');
}

/** Reads the `channels` claim: a list of patterns (for every action) or `{ subscribe, publish }`. */
export function permissionsFromClaims(payload: JWTPayload): ChannelPermissions | undefined {
  const claim = payload['channels'];
  if (claim === undefined) return undefined;
  const all = stringList(claim);
  if (all !== undefined) return { subscribe: all, publish: all };
  if (typeof claim !== 'object' || claim === null) return { subscribe: [], publish: [] };
  const record = claim as Record<string, unknown>;
  return { subscribe: stringList(record['subscribe']) ?? [], publish: stringList(record['publish']) ?? [] };
}

/** Verifies JWTs; `alg: none` and algorithms outside the configured key's family are refused. */
export class JwtAuthenticator implements Authenticator {
  readonly #key: Uint8Array | KeyObject | JWTVerifyGetKey;
  readonly #algorithms: string[];
  readonly #audience: string | undefined;
  readonly #issuer: string | undefined;

  constructor(options: JwtOptions) {
    if (options.jwtSecret !== undefined) {
      this.#key = new TextEncoder().encode(options.jwtSecret);
      this.#algorithms = ['HS256', 'HS384', 'HS512'];
    } else if (options.jwtPublicKeyFile !== undefined) {
      this.#key = createPublicKey(readFileSync(options.jwtPublicKeyFile));
      this.#algorithms = ASYMMETRIC;
    } else if (options.jwksUrl !== undefined) {
      this.#key = createRemoteJWKSet(new URL(options.jwksUrl));
      this.#algorithms = ASYMMETRIC;
    } else {
      throw new TypeError('JwtAuthenticator needs jwtSecret, jwtPublicKeyFile or jwksUrl');
    }
    this.#audience = options.jwtAudience;
    this.#issuer = options.jwtIssuer;
  }

  async verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      const verifyOptions = { algorithms: this.#algorithms, audience: this.#audience, issuer: this.#issuer };
      // jose overloads differ for a key and a key-getter function; both are handled the same way here.
      const result = typeof this.#key === 'function'
        ? await jwtVerify(token, this.#key, verifyOptions)
        : await jwtVerify(token, this.#key, verifyOptions);
      payload = result.payload;
    } catch (error) {
      throw new SwitchyardError('unauthorized', describeJoseError(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) {
      throw new SwitchyardError('unauthorized', 'token has no usable "sub" claim');
    }
    return {
      userId: payload.sub,
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
      permissions: permissionsFromClaims(payload),
      broadcast: payload['broadcast'] === true,
    };
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `token claim "${error.claim}" is not valid`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature is not valid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key matches the token';
  return 'token is not valid';
}
