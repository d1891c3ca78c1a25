// Chat room logic: join a `chat:<room>` channel with presence, load its history, send, track typing.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Subscription, SubscriptionMessage } from '@switchyard/client';
import type { ClientInfo } from '@switchyard/protocol';
import { useClient } from '../client-context';

/** One line of the room's transcript: a chat message, or a join / leave notice. */
export interface ChatLine {
  key: string;
  kind: 'message' | 'notice';
  name: string;
  text: string;
  at: number;
  mine: boolean;
}

/** Where the user is chatting. */
export interface ChatSeat {
  name: string;
  room: string;
}

/** What the chat panel renders and the actions it offers. */
export interface ChatRoom {
  seat: ChatSeat | undefined;
  members: ClientInfo[];
  lines: ChatLine[];
  /** Names of members typing right now (not the user). */
  typing: string[];
  error: string | undefined;
  join(seat: ChatSeat): Promise<void>;
  leave(): Promise<void>;
  send(text: string): Promise<void>;
  /** Call on every keystroke; publishes an ephemeral `typing` at most every few seconds. */
  noteTyping(): void;
}

/** Chat channels live in namespace `chat` (presence, join/leave, client publish and history on). */
export const chatChannel = (room: string): string => `chat:${room}`;

const KEPT_LINES = 200;
const HISTORY_LIMIT = 50;
const TYPING_SEND_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 3_500;

/** The name a member chose (its presence `info.name`), else its user or client id. */
export function memberName(member: ClientInfo): string {
  const name = member.info?.['name'];
  return typeof name === 'string' && name !== '' ? name : member.userId ?? member.clientId.slice(0, 8);
}

interface ChatPayload {
  name: string;
  text: string;
}

function isChatPayload(data: unknown): data is ChatPayload {
  if (typeof data !== 'object' || data === null) return false;
  const record = data as Record<string, unknown>;
  return typeof record['name'] === 'string' && typeof record['text'] === 'string';
}

function errorText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** State and actions of the dashboard's chat, on the page's one client. */
export function useChatRoom(): ChatRoom {
  const client = useClient();
  const [seat, setSeat] = useState<ChatSeat | undefined>();
  const [members, setMembers] = useState<ClientInfo[]>([]);
  const [lines, setLines] = useState<ChatLine[]>([]);
  const [typers, setTypers] = useState<Map<string, number>>(new Map());
  const [error, setError] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now);
  const current = useRef<{ subscription: Subscription; seat: ChatSeat; unbind: () => void } | undefined>(undefined);
  const lastTypingSent = useRef(0);

  const appendLines = useCallback((added: ChatLine[], position: 'start' | 'end' = 'end') => {
    setLines((previous) => {
      const known = new Set(previous.map((line) => line.key));
      const fresh = added.filter((line) => !known.has(line.key));
      if (fresh.length === 0) return previous;
      return (position === 'start' ? [...fresh, ...previous] : [...previous, ...fresh]).slice(-KEPT_LINES);
    });
  }, []);

  const lineFrom = useCallback((message: Pick<SubscriptionMessage, 'data' | 'offset' | 'epoch' | 'from' | 'timestamp'>): ChatLine | undefined => {
    if (!isChatPayload(message.data)) return undefined;
    return {
      key: `${message.epoch}:${message.offset}`,
      kind: 'message',
      name: message.data.name,
      text: message.data.text,
      at: message.timestamp,
      mine: message.from !== undefined && message.from === (client.userId ?? client.clientId),
    };
  }, [client]);

  const notice = useCallback((text: string, name = ''): ChatLine => {
    const at = Date.now();
    return { key: `notice:${at}:${Math.random()}`, kind: 'notice', name, text, at, mine: false };
  }, []);

  const bind = useCallback((subscription: Subscription, joined: ChatSeat): (() => void) => {
    const channel = subscription.channel;
    // Answers that arrive after the user left (or switched rooms) belong to no room on screen.
    let bound = true;
    const refreshPresence = async (): Promise<void> => {
      try {
        const { members: present } = await client.presence(channel);
        if (bound) setMembers(present);
      } catch (cause) {
        if (bound) setError(`presence: ${errorText(cause)}`);
      }
    };
    const loadHistory = async (): Promise<void> => {
      try {
        const { publications } = await client.history(channel, { limit: HISTORY_LIMIT });
        if (!bound) return;
        const earlier = publications
          .filter((publication) => publication.event === 'chat')
          .map((publication) => lineFrom(publication))
          .filter((line): line is ChatLine => line !== undefined);
        appendLines(earlier, 'start');
      } catch (cause) {
        if (bound) setError(`history: ${errorText(cause)}`);
      }
    };
    let first = true;
    const offs = [
      subscription.on('subscribed', () => {
        setError(undefined);
        // Members may have come and gone while we were away; the transcript is recovered by the SDK.
        void refreshPresence();
        if (first) {
          first = false;
          appendLines([notice(`You joined #${joined.room} as ${joined.name}`)]);
          void loadHistory();
        }
      }),
      subscription.on('unrecovered', () => void loadHistory()),
      subscription.on('message', (message) => {
        if (message.event === 'typing') {
          const data = message.data as { name?: unknown } | null;
          const name = typeof data?.name === 'string' ? data.name : undefined;
          if (name !== undefined && message.from !== (client.userId ?? client.clientId)) {
            setTypers((previous) => new Map(previous).set(name, Date.now() + TYPING_SHOWN_MS));
          }
          return;
        }
        if (message.event !== 'chat') return;
        const line = lineFrom(message);
        if (line === undefined) return;
        appendLines([line]);
        setTypers((previous) => {
          if (!previous.has(line.name)) return previous;
          const next = new Map(previous);
          next.delete(line.name);
          return next;
        });
      }),
      subscription.on('join', (member) => {
        setMembers((previous) => [...previous.filter((known) => known.clientId !== member.clientId), member]);
        if (member.clientId !== client.clientId) appendLines([notice(`${memberName(member)} joined`, memberName(member))]);
      }),
      subscription.on('leave', (member) => {
        setMembers((previous) => previous.filter((known) => known.clientId !== member.clientId));
        if (member.clientId !== client.clientId) appendLines([notice(`${memberName(member)} left`, memberName(member))]);
      }),
      subscription.on('error', (cause) => setError(errorText(cause))),
    ];
    return () => {
      bound = false;
      offs.forEach((off) => off());
    };
  }, [appendLines, client, lineFrom, notice]);

  const leave = useCallback(async () => {
    const active = current.current;
    if (active === undefined) return;
    current.current = undefined;
    active.unbind();
    setSeat(undefined);
    setMembers([]);
    setLines([]);
    setTypers(new Map());
    try {
      await client.unsubscribe(active.subscription.channel);
    } catch (cause) {
      // The SDK settles the harmless cases (offline, already gone) itself: what is left is real.
      setError(errorText(cause));
    }
  }, [client]);

  const join = useCallback(async (next: ChatSeat) => {
    await leave();
    setError(undefined);
    const subscription = client.subscribe(chatChannel(next.room), { info: { name: next.name } });
    current.current = { subscription, seat: next, unbind: bind(subscription, next) };
    setSeat(next);
  }, [bind, client, leave]);

  const send = useCallback(async (text: string) => {
    const active = current.current;
    if (active === undefined || text.trim() === '') return;
    lastTypingSent.current = 0;
    try {
      await client.publish(active.subscription.channel, { name: active.seat.name, text: text.trim() }, { event: 'chat' });
    } catch (cause) {
      setError(`send: ${errorText(cause)}`);
    }
  }, [client]);

  const noteTyping = useCallback(() => {
    const active = current.current;
    const at = Date.now();
    if (active === undefined || client.state !== 'connected' || at - lastTypingSent.current < TYPING_SEND_EVERY_MS) return;
    lastTypingSent.current = at;
    client.publish(active.subscription.channel, { typing: true, name: active.seat.name }, { event: 'typing', ephemeral: true })
      .catch((cause: unknown) => setError(`typing: ${errorText(cause)}`));
  }, [client]);

  // Typing notices expire on their own, so the clock only runs while someone is typing.
  useEffect(() => {
    if (typers.size === 0) return;
    const timer = setInterval(() => {
      const at = Date.now();
      setNow(at);
      setTypers((previous) => {
        const next = new Map([...previous].filter(([, until]) => until > at));
        return next.size === previous.size ? previous : next;
      });
    }, 500);
    return () => clearInterval(timer);
  }, [typers.size]);

  // A subscription handed out after Disconnect + Connect replaces ours: follow it.
  useEffect(() => client.on('connected', () => {
    const active = current.current;
    if (active === undefined) return;
    const subscription = client.subscribe(active.subscription.channel, { info: { name: active.seat.name } });
    if (subscription === active.subscription) return;
    active.unbind();
    current.current = { subscription, seat: active.seat, unbind: bind(subscription, active.seat) };
  }), [bind, client]);

  const typing = [...typers].filter(([, until]) => until > now).map(([name]) => name);
  return { seat, members, lines, typing, error, join, leave, send, noteTyping };
}
