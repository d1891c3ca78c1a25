// Runtime schemas for client messages (zod); the server validates every frame against them.

import { z } from 'zod';
import type { ClientMessage, ClientMessageType } from './frames.js';
import { isValidChannel } from './channel.js';

const requestId = z.union([z.string().max(64), z.number().int().safe()]);
const channel = z.string().refine((value) => isValidChannel(value), { message: 'invalid channel name' });
const position = z.strictObject({
  offset: z.number().int().nonnegative().safe(),
  epoch: z.string().max(64),
});
const infoObject = z.record(z.string(), z.unknown());

/** Schemas keyed by message type. Each message is a strict object: unknown fields are refused. */
export const clientMessageSchemas = {
  echo: z.strictObject({ type: z.literal('echo'), id: requestId.optional(), data: z.unknown().optional() }),
  ping: z.strictObject({ type: z.literal('ping'), id: requestId.optional(), data: z.unknown().optional() }),
  auth: z.strictObject({
    type: z.literal('auth'),
    id: requestId.optional(),
    data: z.strictObject({ token: z.string().min(1).max(8192) }),
  }),
  subscribe: z.strictObject({
    type: z.literal('subscribe'),
    id: requestId.optional(),
    channel,
    since: position.optional(),
    info: infoObject.optional(),
  }),
  unsubscribe: z.strictObject({ type: z.literal('unsubscribe'), id: requestId.optional(), channel }),
  publish: z.strictObject({
    type: z.literal('publish'),
    id: requestId.optional(),
    channel,
    data: z.unknown().refine((value) => value !== undefined, { message: 'data is required' }),
    event: z.string().min(1).max(64).optional(),
    key: z.string().min(1).max(128).optional(),
    ephemeral: z.boolean().optional(),
  }),
  broadcast: z.strictObject({
    type: z.literal('broadcast'),
    id: requestId.optional(),
    data: z.unknown().refine((value) => value !== undefined, { message: 'data is required' }),
  }),
  presence: z.strictObject({ type: z.literal('presence'), id: requestId.optional(), channel }),
  history: z.strictObject({
    type: z.literal('history'),
    id: requestId.optional(),
    channel,
    since: position.optional(),
    limit: z.number().int().positive().max(10_000).optional(),
    reverse: z.boolean().optional(),
  }),
  direct: z.strictObject({
    type: z.literal('direct'),
    id: requestId.optional(),
    to: z.string().min(1).max(255),
    data: z.unknown().refine((value) => value !== undefined, { message: 'data is required' }),
  }),
} as const satisfies Record<ClientMessageType, z.ZodType>;

// Compile-time check that every hand-written frame type is accepted by its schema's type, and that
// each schema's `type` literal is the frame type it is keyed by. (zod infers `unknown` fields as
// optional, so the check runs one way.)
type SchemaOutput = { [K in ClientMessageType]: z.infer<(typeof clientMessageSchemas)[K]> };
type FramesFitSchemas = { [K in ClientMessageType]: Extract<ClientMessage, { type: K }> extends SchemaOutput[K] ? true : false };
const framesFitSchemas: FramesFitSchemas[ClientMessageType] = true;
void framesFitSchemas;

/** The result of validating one decoded client frame. */
export type ValidationResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: 'invalid_message' | 'unknown_type' | 'invalid_channel'; message: string; id?: string | number };

function pickId(value: Record<string, unknown>): string | number | undefined {
  const id = value['id'];
  if (typeof id === 'string' && id.length <= 64) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return undefined;
}

// A fast path for well-formed messages, which are nearly all of them. It accepts a subset of what the
// zod schemas above accept (schemas.test.ts checks this on generated messages) and hands everything
// else to zod, which words the error. For a publish, zod is about half the server's own CPU per message.

type FieldCheck = (value: unknown) => boolean;

const isRequestId: FieldCheck = (value) =>
  (typeof value === 'string' && value.length <= 64) || (typeof value === 'number' && Number.isSafeInteger(value));
const isAnything: FieldCheck = () => true;
const isData: FieldCheck = (value) => value !== undefined;
const isBoolean: FieldCheck = (value) => typeof value === 'boolean';
const isStringOf = (max: number): FieldCheck => (value) => typeof value === 'string' && value.length >= 1 && value.length <= max;
const isChannelName: FieldCheck = (value) => isValidChannel(value);
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
const isPosition: FieldCheck = (value) => {
  if (!isPlainObject(value)) return false;
  for (const key in value) if (key !== 'offset' && key !== 'epoch') return false;
  const { offset, epoch } = value;
  return typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0 && typeof epoch === 'string' && epoch.length <= 64;
};
const isInfo: FieldCheck = isPlainObject;
const isHistoryLimit: FieldCheck = (value) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= 10_000;

interface QuickShape {
  /** Every field the message may carry, with its check. A field not listed sends the message to zod. */
  readonly fields: Readonly<Record<string, FieldCheck>>;
  readonly required: readonly string[];
}

/** The types checked here; `auth` always goes to zod. */
const quickShapes: Partial<Record<ClientMessageType, QuickShape>> = {
  subscribe: { fields: { type: isAnything, id: isRequestId, channel: isChannelName, since: isPosition, info: isInfo }, required: ['channel'] },
  history: {
    fields: { type: isAnything, id: isRequestId, channel: isChannelName, since: isPosition, limit: isHistoryLimit, reverse: isBoolean },
    required: ['channel'],
  },
  echo: { fields: { type: isAnything, id: isRequestId, data: isAnything }, required: [] },
  ping: { fields: { type: isAnything, id: isRequestId, data: isAnything }, required: [] },
  publish: {
    fields: { type: isAnything, id: isRequestId, channel: isChannelName, data: isData, event: isStringOf(64), key: isStringOf(128), ephemeral: isBoolean },
    required: ['channel', 'data'],
  },
  unsubscribe: { fields: { type: isAnything, id: isRequestId, channel: isChannelName }, required: ['channel'] },
  presence: { fields: { type: isAnything, id: isRequestId, channel: isChannelName }, required: ['channel'] },
  broadcast: { fields: { type: isAnything, id: isRequestId, data: isData }, required: ['data'] },
  direct: { fields: { type: isAnything, id: isRequestId, to: isStringOf(255), data: isData }, required: ['to', 'data'] },
};

/** True when `record` is a well-formed `type` message by the fast checks alone (false means: ask zod). */
export function acceptsQuickly(record: Record<string, unknown>, type: ClientMessageType): boolean {
  const shape = quickShapes[type];
  if (shape === undefined || Object.getPrototypeOf(record) !== Object.prototype) return false;
  for (const key in record) {
    if (!Object.hasOwn(shape.fields, key)) return false;
    const check = shape.fields[key] as FieldCheck;
    if (!check(record[key])) return false;
  }
  for (const key of shape.required) if (!Object.hasOwn(record, key)) return false;
  return true;
}

/** Validate a decoded value as a client message; errors name the first offending field. */
export function validateClientMessage(value: unknown): ValidationResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'invalid_message', message: 'a message must be a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const id = pickId(record);
  const type = record['type'];
  if (typeof type !== 'string') {
    return { ok: false, code: 'invalid_message', message: 'the message has no string "type"', id };
  }
  if (!Object.hasOwn(clientMessageSchemas, type)) {
    return { ok: false, code: 'unknown_type', message: `unknown message type "${type.slice(0, 64)}"`, id };
  }
  if (acceptsQuickly(record, type as ClientMessageType)) return { ok: true, message: record as unknown as ClientMessage };
  const schema = clientMessageSchemas[type as ClientMessageType];
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data as ClientMessage };
  const issue = parsed.error.issues[0];
  const path = issue?.path.join('.') ?? '';
  if (path === 'channel') {
    return { ok: false, code: 'invalid_channel', message: 'channel must be 1–255 characters from A–Z a–z 0–9 . _ - : @ / # =', id };
  }
  return { ok: false, code: 'invalid_message', message: `${type}: ${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}`, id };
}

/** Depth of nesting of a decoded JSON value, stopping early once `limit` is exceeded. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  return depthOf(value, 0, limit) > limit;
}

function depthOf(value: unknown, depth: number, limit: number): number {
  if (typeof value !== 'object' || value === null) return depth;
  const next = depth + 1;
  if (next > limit) return next;
  let max = next;
  if (Array.isArray(value)) {
    for (const item of value) {
      const d = depthOf(item, next, limit);
      if (d > max) max = d;
      if (max > limit) return max;
    }
  } else {
    for (const key in value) {
      const d = depthOf((value as Record<string, unknown>)[key], next, limit);
      if (d > max) max = d;
      if (max > limit) return max;
    }
  }
  return max;
}
