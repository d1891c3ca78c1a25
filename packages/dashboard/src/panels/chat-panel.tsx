// Chat panel: pick a name and a room, talk, see who is there and who is typing.

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { formatClock } from '../format-figures';
import { memberName, useChatRoom } from '../hooks/use-chat-room';
import { useClient } from '../client-context';

// Room names become part of a channel name, so they keep to a conservative character set.
const ROOM_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_NAME = 32;
const MAX_TEXT = 500;

function randomGuestName(): string {
  return `guest-${Math.floor(1000 + Math.random() * 9000)}`;
}

function typingText(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** The chat of `chat:<room>` channels: join form, members, transcript, typing indicator, composer. */
export function ChatPanel() {
  const client = useClient();
  const chat = useChatRoom();
  const [name, setName] = useState(randomGuestName);
  const [room, setRoom] = useState('lobby');
  const [draft, setDraft] = useState('');
  const transcript = useRef<HTMLOListElement>(null);
  const roomValid = ROOM_PATTERN.test(room);
  const nameValid = name.trim() !== '';

  // Keep the newest line in view, as chat apps do.
  useEffect(() => {
    const list = transcript.current;
    if (list !== null) list.scrollTop = list.scrollHeight;
  }, [chat.lines.length]);

  const onJoin = (event: FormEvent): void => {
    event.preventDefault();
    if (roomValid && nameValid) void chat.join({ name: name.trim(), room });
  };
  const onSend = (event: FormEvent): void => {
    event.preventDefault();
    if (draft.trim() === '') return;
    void chat.send(draft);
    setDraft('');
  };

  return (
    <section className="panel panel-chat" aria-labelledby="chat-title">
      <header className="panel-header">
        <h2 id="chat-title">Chat</h2>
        {chat.seat !== undefined && (
          <span className="muted" data-testid="chat-seat">#{chat.seat.room} · {chat.seat.name}</span>
        )}
      </header>
      {chat.seat === undefined ? (
        <form className="chat-join" onSubmit={onJoin}>
          <label>
            Name
            <input data-testid="chat-name" value={name} maxLength={MAX_NAME} autoComplete="nickname" onChange={(event) => setName(event.target.value)} />
          </label>
          <label>
            Room
            <input data-testid="chat-room" value={room} maxLength={64} aria-invalid={!roomValid} onChange={(event) => setRoom(event.target.value)} />
          </label>
          <button type="submit" className="primary" data-testid="chat-join" disabled={!roomValid || !nameValid}>Join</button>
          {!roomValid && <p className="hint">Rooms use letters, digits, <code>.</code> <code>_</code> <code>-</code>.</p>}
          <p className="hint">Rooms are channels <code>chat:&lt;room&gt;</code> with presence and history. Open a second tab to talk to yourself.</p>
        </form>
      ) : (
        <div className="chat-room">
          <aside className="chat-members">
            <h3>Members <span className="count" data-testid="chat-member-count">{chat.members.length}</span></h3>
            <ul data-testid="chat-members">
              {chat.members.map((member) => (
                <li key={member.clientId} data-testid="chat-member" className={member.clientId === client.clientId ? 'me' : undefined}>
                  <i aria-hidden="true" />
                  {memberName(member)}
                  {member.clientId === client.clientId && <span className="muted"> (you)</span>}
                </li>
              ))}
            </ul>
            <button type="button" data-testid="chat-leave" onClick={() => void chat.leave()}>Leave</button>
          </aside>
          <div className="chat-main">
            <ol className="chat-lines" ref={transcript} data-testid="chat-messages" aria-live="polite">
              {chat.lines.map((line) => (
                line.kind === 'notice' ? (
                  <li key={line.key} className="chat-notice" data-testid="chat-notice">{line.text}</li>
                ) : (
                  <li key={line.key} className={`chat-message${line.mine ? ' mine' : ''}`} data-testid="chat-message">
                    <span className="chat-author">{line.name}</span>
                    <time>{formatClock(line.at)}</time>
                    <p>{line.text}</p>
                  </li>
                )
              ))}
            </ol>
            <p className="chat-typing" data-testid="chat-typing">{typingText(chat.typing)}</p>
            <form className="chat-compose" onSubmit={onSend}>
              <input
                data-testid="chat-input"
                placeholder={`Message #${chat.seat.room}`}
                value={draft}
                maxLength={MAX_TEXT}
                onChange={(event) => {
                  setDraft(event.target.value);
                  chat.noteTyping();
                }}
              />
              <button type="submit" className="primary" data-testid="chat-send" disabled={draft.trim() === ''}>Send</button>
            </form>
          </div>
        </div>
      )}
      {chat.error !== undefined && <p className="error" role="alert" data-testid="chat-error">{chat.error}</p>}
    </section>
  );
}
