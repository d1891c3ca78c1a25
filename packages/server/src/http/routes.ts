// The HTTP API as a Fastify plugin: status, health, metrics, publish, broadcast, the demo feed.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { isValidChannel } from '@switchyard/protocol';
import { SwitchyardError, errorBody, toSwitchyardError } from '../errors.js';
import type { DemoFeed } from '../feeds/demo-feed.js';
import type { Hub } from '../hub/hub.js';
import type { SwitchyardOptions } from '../options.js';

/** What the routes need from the server. */
export interface HttpApiContext {
  readonly hub: Hub;
  readonly options: Readonly<SwitchyardOptions>;
  readonly metrics: Registry;
  readonly demo: DemoFeed | undefined;
  status(): Promise<Record<string, unknown>>;
  ready(): boolean;
}

const channelSchema = z.string().refine((value) => isValidChannel(value), { message: 'channel must be 1–255 characters from A–Z a–z 0–9 . _ - : @ / # =' });
const present = z.unknown().refine((value) => value !== undefined, { message: 'data is required' });

const publishBody = z.strictObject({
  channel: channelSchema,
  data: present,
  event: z.string().min(1).max(64).optional(),
  key: z.string().min(1).max(128).optional(),
  ephemeral: z.boolean().optional(),
});

const broadcastBody = z.strictObject({ data: present, channel: channelSchema.optional() });

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SwitchyardError('invalid_message', 'the body must be a JSON object');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.join('.') ?? '';
  throw new SwitchyardError(path === 'channel' ? 'invalid_channel' : 'invalid_message', `${path ? `${path}: ` : ''}${issue?.message ?? 'invalid body'}`);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Fastify errors (body parsing, limits) mapped to protocol codes. */
function fromFastifyError(error: { code?: string; statusCode?: number; message: string }): SwitchyardError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SwitchyardError('payload_too_large', 'the body is larger than the limit');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new SwitchyardError('bad_json', 'the body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SwitchyardError('invalid_message', 'send the body as application/json');
    default:
      if (error.statusCode === 400 && /JSON/i.test(error.message)) return new SwitchyardError('bad_json', 'the body is not valid JSON');
      if (error.statusCode === 400) return new SwitchyardError('invalid_message', error.message.slice(0, 200));
      if (error.statusCode === 413) return new SwitchyardError('payload_too_large', 'the body is larger than the limit');
      return toSwitchyardError(error);
  }
}

/** Register the routes on `app`. */
export async function httpApi(app: FastifyInstance, ctx: HttpApiContext): Promise<void> {
  const { hub, options } = ctx;
  const apiKey = options.apiKey === undefined ? undefined : digest(options.apiKey);

  const requireKey = async (request: FastifyRequest): Promise<void> => {
    if (apiKey === undefined) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Compare digests so the comparison takes the same time whatever the key's length.
    if (match === null || !timingSafeEqual(digest(match[1]!), apiKey)) {
      throw new SwitchyardError('unauthorized', 'a valid API key is required (Authorization: Bearer <key>)');
    }
  };
  const requireKeyForReads = options.protectReadRoutes ? requireKey : async (): Promise<void> => undefined;

  app.setErrorHandler((error, _request, reply) => {
    const failure = error instanceof SwitchyardError ? error : fromFastifyError(error as { code?: string; statusCode?: number; message: string });
    if (failure.code === 'internal') app.log.error({ err: error }, 'HTTP request failed');
    if (failure.retryAfterMs !== undefined) void reply.header('retry-after', Math.ceil(failure.retryAfterMs / 1000));
    void reply.status(failure.httpStatus).send(errorBody(failure));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(new SwitchyardError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)));
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply: FastifyReply) => {
    const ready = ctx.ready();
    return reply.status(ready ? 200 : 503).send({ ready });
  });
  app.get('/status', { onRequest: requireKeyForReads }, async () => ctx.status());
  app.get('/metrics', { onRequest: requireKeyForReads }, async (_request, reply) => {
    const text = await ctx.metrics.metrics();
    return reply.type(ctx.metrics.contentType).send(text);
  });
  app.get('/channels', { onRequest: requireKeyForReads }, async () => ({ channels: hub.channels(), namespaces: hub.namespaces.all() }));

  app.post('/publish', { onRequest: requireKey }, async (request) => {
    const body = parseBody(publishBody, request.body);
    const publish: Parameters<Hub['publish']>[0] = { channel: body.channel, data: body.data };
    if (body.event !== undefined) publish.event = body.event;
    if (body.key !== undefined) publish.key = body.key;
    if (body.ephemeral === true) publish.ephemeral = true;
    const result = await hub.publish(publish);
    return result.duplicate ? { offset: result.offset, epoch: result.epoch, duplicate: true } : { offset: result.offset, epoch: result.epoch };
  });
  app.post('/broadcast', { onRequest: requireKey }, async (request) => {
    const body = parseBody(broadcastBody, request.body);
    const delivered = await hub.broadcast(body.data, body.channel);
    return { delivered };
  });

  app.get('/events', async () => {
    if (ctx.demo === undefined) throw new SwitchyardError('not_found', 'the demo feed is off (--no-demo)');
    return { events: ctx.demo.list() };
  });
  app.get<{ Params: { id: string } }>('/events/:id', async (request) => {
    const event = ctx.demo?.get(request.params.id);
    if (event === undefined) throw new SwitchyardError('not_found', `no event with id "${request.params.id.slice(0, 64)}"`);
    return event;
  });
}
