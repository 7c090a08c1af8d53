import {
  SwitchboardApiError,
  type AssistantInfo,
  type ChatStream,
  type ConversationInfo,
  type ConversationMessage,
  type FileInfo,
  type Me,
  type ModelInfo,
} from '@switchboard/client';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from '../components/errors';
import { MessageView, type UiMessage } from '../components/message-view';
import { client } from '../session';

const BUILT_IN_ASSISTANTS = [
  { id: 'default', name: 'Default' },
  { id: 'map-reduce', name: 'Map-reduce (large documents)' },
  { id: 'agent', name: 'Agent (tools)' },
  { id: 'code-interpreter', name: 'Code interpreter' },
];

const PENDING = new Set(['queued', 'processing']);

let seq = 0;
const localId = () => `local-${++seq}`;

function fromStored(m: ConversationMessage): UiMessage {
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    status: m.status,
    model: m.model,
    sources: m.sources,
    generatedFiles: m.generatedFiles,
    statuses: [],
    usage: m.usage,
    error: m.error ? m.error.message : null,
  };
}

export function ChatPage({ me }: { me: Me }) {
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [model, setModel] = useState('');
  const [assistants, setAssistants] = useState<AssistantInfo[]>([]);
  const [assistant, setAssistant] = useState('');
  const [conversations, setConversations] = useState<ConversationInfo[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [messages, setMessages] = useState<UiMessage[]>([]);
  const [files, setFiles] = useState<FileInfo[]>([]);
  const [tags, setTags] = useState<string[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [text, setText] = useState('');
  const [stream, setStream] = useState<ChatStream | null>(null);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const logRef = useRef<HTMLDivElement>(null);
  const canFiles = me.scopes.includes('files') || me.scopes.includes('admin');

  const loadConversations = useCallback(
    async (cursor?: string) => {
      const page = await client.conversations({ q: search || undefined, cursor, limit: 30 });
      setConversations((prev) => (cursor ? [...prev, ...page.data] : page.data));
      setNextCursor(page.nextCursor);
    },
    [search],
  );

  const loadFiles = useCallback(async () => {
    if (!canFiles) return;
    const [f, t] = await Promise.all([client.files(), client.tags()]);
    setFiles(f);
    setTags(t.map((x) => x.tag));
  }, [canFiles]);

  useEffect(() => {
    void (async () => {
      try {
        const ms = (await client.models()).filter(
          (m) => !m.capabilities || m.capabilities.includes('chat'),
        );
        setModels(ms);
        setModel((cur) => cur || ms[0]?.id || '');
        setAssistants(await client.assistants().catch(() => []));
        await loadFiles();
      } catch (e) {
        setError(errorText(e));
      }
    })();
  }, [loadFiles]);

  useEffect(() => {
    const t = setTimeout(() => void loadConversations().catch((e) => setError(errorText(e))), 150);
    return () => clearTimeout(t);
  }, [loadConversations]);

  // ingestion status: poll while any file is queued or processing
  useEffect(() => {
    if (!files.some((f) => PENDING.has(f.status))) return;
    const t = setTimeout(() => void loadFiles().catch(() => undefined), 700);
    return () => clearTimeout(t);
  }, [files, loadFiles]);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages]);

  const openConversation = async (id: string) => {
    if (stream) return;
    setError(null);
    setConversationId(id);
    setMessages((await client.conversationMessages(id)).map(fromStored));
  };

  const newConversation = () => {
    if (stream) return;
    setConversationId(null);
    setMessages([]);
    setError(null);
  };

  const patchLast = (f: (m: UiMessage) => UiMessage) =>
    setMessages((ms) => (ms.length ? [...ms.slice(0, -1), f(ms[ms.length - 1])] : ms));

  const send = async (question: string, history: UiMessage[]) => {
    if (!question.trim() || !model || sending) return;
    setSending(true);
    setError(null);
    let convId = conversationId;
    try {
      if (!convId) {
        convId = (await client.createConversation()).id;
        setConversationId(convId);
      }
    } catch (e) {
      setError(errorText(e));
      setSending(false);
      return;
    }
    const user: UiMessage = {
      id: localId(),
      role: 'user',
      content: question,
      status: 'complete',
      model: null,
      sources: [],
      generatedFiles: [],
      statuses: [],
      usage: null,
      error: null,
    };
    const answer: UiMessage = {
      ...user,
      id: localId(),
      role: 'assistant',
      content: '',
      status: 'streaming',
    };
    setMessages([...history, user, answer]);
    setText('');
    const sources = [...selected];
    try {
      const s = await client.chat({
        messages: [
          ...history
            .filter((m) => m.status === 'complete' && m.content)
            .map((m) => ({ role: m.role, content: m.content })),
          { role: 'user', content: question },
        ],
        options: {
          model: { id: model },
          conversationId: convId,
          ...(assistant ? { assistantId: assistant } : {}),
        },
        ...(sources.length ? { dataSources: sources } : {}),
      });
      setStream(s);
      patchLast((m) => ({ ...m, model: s.info.model ?? model }));
      for await (const ev of s) {
        switch (ev.type) {
          case 'answer':
            patchLast((m) => ({ ...m, content: m.content + ev.text }));
            break;
          case 'status':
            patchLast((m) => ({
              ...m,
              statuses: [...m.statuses.filter((x) => x.id !== ev.status.id), ev.status],
            }));
            break;
          case 'state':
            patchLast((m) => ({
              ...m,
              sources: ev.sources ?? m.sources,
              generatedFiles: ev.generatedFiles
                ? [...m.generatedFiles, ...ev.generatedFiles]
                : m.generatedFiles,
            }));
            break;
          case 'error':
            patchLast((m) => ({
              ...m,
              error: ev.code === 'cancelled' ? null : `${ev.message} (${ev.code})`,
            }));
            break;
          case 'end':
            patchLast((m) => ({
              ...m,
              status: ev.status,
              usage: ev.usage,
              model: ev.model || m.model,
            }));
            break;
          case 'tool_call':
          case 'heartbeat':
            break;
        }
      }
      // a stream stopped here ends without its end frame
      patchLast((m) => (m.status === 'streaming' ? { ...m, status: 'cancelled' } : m));
    } catch (e) {
      const msg = errorText(e);
      patchLast((m) => ({ ...m, status: 'error', error: msg }));
      if (e instanceof SwitchboardApiError) setError(msg);
    } finally {
      setStream(null);
      setSending(false);
      void loadConversations().catch(() => undefined);
      if (canFiles) void loadFiles().catch(() => undefined);
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    void send(text, messages);
  };

  const stop = () => void stream?.cancel().catch(() => stream.abort());

  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const regenerate = () => {
    if (!lastUser) return;
    const i = messages.lastIndexOf(lastUser);
    void send(lastUser.content, messages.slice(0, i));
  };

  const upload = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const list = [...(input.files ?? [])];
    input.value = '';
    for (const f of list) {
      try {
        const stored = await client.uploadFile(f, f.name);
        setSelected((s) => new Set(s).add(stored.id));
        setFiles((fs) => [stored, ...fs.filter((x) => x.id !== stored.id)]);
      } catch (err) {
        setError(errorText(err));
      }
    }
  };

  const toggle = (ref: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(ref)) n.delete(ref);
      else n.add(ref);
      return n;
    });

  const rename = async (c: ConversationInfo) => {
    const title = prompt('New title', c.title)?.trim();
    if (!title) return;
    await client.renameConversation(c.id, title).catch((e) => setError(errorText(e)));
    await loadConversations();
  };

  const remove = async (c: ConversationInfo) => {
    if (!confirm(`Delete “${c.title || 'Untitled'}”?`)) return;
    await client.deleteConversation(c.id).catch((e) => setError(errorText(e)));
    if (c.id === conversationId) newConversation();
    await loadConversations();
  };

  const busy = stream !== null || sending;
  return (
    <div class="chat">
      <aside class="sidebar">
        <button type="button" onClick={newConversation} disabled={busy}>
          New conversation
        </button>
        <label for="conv-search">Search conversations</label>
        <input
          id="conv-search"
          type="search"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <nav aria-label="Conversations">
          <ul class="conversations">
            {conversations.map((c) => (
              <li key={c.id}>
                <button
                  type="button"
                  class="conversation"
                  aria-current={c.id === conversationId ? 'true' : undefined}
                  onClick={() => void openConversation(c.id)}
                >
                  {c.title || 'Untitled'}
                </button>
                <button
                  type="button"
                  class="icon"
                  aria-label={`Rename ${c.title || 'Untitled'}`}
                  onClick={() => void rename(c)}
                >
                  ✎
                </button>
                <button
                  type="button"
                  class="icon"
                  aria-label={`Delete ${c.title || 'Untitled'}`}
                  onClick={() => void remove(c)}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
          {nextCursor && (
            <button type="button" onClick={() => void loadConversations(nextCursor)}>
              More conversations
            </button>
          )}
        </nav>
        {canFiles && (
          <section aria-labelledby="files-heading" class="files">
            <h2 id="files-heading">Documents</h2>
            <label for="upload">Upload file</label>
            <input id="upload" type="file" multiple onChange={(e) => void upload(e)} />
            <ul>
              {files.map((f) => (
                <li key={f.id}>
                  <label>
                    <input
                      type="checkbox"
                      checked={selected.has(f.id)}
                      disabled={f.status === 'failed' || f.status === 'stored'}
                      onChange={() => toggle(f.id)}
                    />
                    Use {f.name}
                  </label>{' '}
                  <span class={`file-status ${f.status}`} aria-label={`${f.name} status`}>
                    {f.status}
                  </span>
                  {f.error && <span class="error"> {f.error}</span>}
                </li>
              ))}
            </ul>
            {tags.length > 0 && (
              <fieldset>
                <legend>Tags</legend>
                {tags.map((t) => (
                  <label key={t}>
                    <input
                      type="checkbox"
                      checked={selected.has(`tag://${t}`)}
                      onChange={() => toggle(`tag://${t}`)}
                    />
                    Tag {t}
                  </label>
                ))}
              </fieldset>
            )}
          </section>
        )}
      </aside>
      <section class="conversation-pane" aria-label="Chat">
        <div class="pickers">
          <label for="model">Model</label>
          <select id="model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
                {m.simulated ? ' (simulated)' : ''}
              </option>
            ))}
          </select>
          <label for="assistant">Assistant</label>
          <select
            id="assistant"
            value={assistant}
            onChange={(e) => setAssistant(e.currentTarget.value)}
          >
            <option value="">Automatic</option>
            {BUILT_IN_ASSISTANTS.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
            {assistants.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <div class="log" role="log" aria-label="Conversation" aria-live="polite" ref={logRef}>
          {messages.length === 0 && <p class="muted">Ask something to start a conversation.</p>}
          {messages.map((m) => (
            <MessageView key={m.id} m={m} />
          ))}
        </div>
        {error && (
          <p class="error banner" role="alert">
            {error}
          </p>
        )}
        <form class="composer" onSubmit={submit}>
          <label for="message" class="sr-only">
            Message
          </label>
          <textarea
            id="message"
            rows={3}
            value={text}
            placeholder="Message (Enter to send, Shift+Enter for a new line)"
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                void send(text, messages);
              }
            }}
          />
          <div class="actions">
            <button type="submit" disabled={busy || !text.trim() || !model}>
              Send
            </button>
            <button type="button" onClick={stop} disabled={!stream}>
              Stop
            </button>
            <button type="button" onClick={regenerate} disabled={busy || !lastUser}>
              Regenerate
            </button>
          </div>
        </form>
      </section>
    </div>
  );
}
