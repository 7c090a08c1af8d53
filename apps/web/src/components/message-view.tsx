import type { EndUsage, GeneratedFile, SourceRef, StatusUpdate } from '@switchboard/client';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { renderMarkdown } from '../markdown';
import { client, formatUsd } from '../session';

export interface UiMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'streaming' | 'complete' | 'cancelled' | 'error';
  model: string | null;
  sources: SourceRef[];
  generatedFiles: GeneratedFile[];
  statuses: StatusUpdate[];
  usage: EndUsage | null;
  error: string | null;
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

async function download(f: GeneratedFile): Promise<void> {
  const blob = await client.fileContent(f.fileId);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = f.name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A produced image, fetched with the bearer token and shown from a blob: URL. */
function GeneratedImage({ file }: { file: GeneratedFile }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let url: string | undefined;
    let live = true;
    client.fileContent(file.fileId).then(
      (b) => {
        url = URL.createObjectURL(b);
        if (live) setSrc(url);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [file.fileId]);
  if (failed) return <p class="error">Could not load {file.name}.</p>;
  return src ? (
    <figure>
      <img src={src} alt={`Generated image ${file.name}`} />
      <figcaption>{file.name}</figcaption>
    </figure>
  ) : (
    <p class="muted">Loading {file.name}…</p>
  );
}

function UsageLine({ usage, model }: { usage: EndUsage; model: string | null }) {
  return (
    <p class="usage">
      {model ? `${model} · ` : ''}
      {usage.inputTokens} in · {usage.outputTokens} out tokens
      {usage.estimated ? ' (estimated)' : ''} · {formatUsd(usage.costMicros)}
    </p>
  );
}

export function MessageView({ m }: { m: UiMessage }) {
  const anchor = `src-${m.id}`;
  const html = useMemo(
    () =>
      m.role === 'assistant'
        ? renderMarkdown(m.content, new Set(m.sources.map((s) => s.n)), anchor)
        : '',
    [m.content, m.role, m.sources, anchor],
  );
  return (
    <article
      class={`message ${m.role} ${m.status}`}
      aria-label={m.role === 'user' ? 'You' : 'Assistant'}
      aria-busy={m.status === 'streaming'}
    >
      <h2 class="sr-only">{m.role === 'user' ? 'You' : 'Assistant'}</h2>
      {m.statuses.length > 0 && (
        <ul class="statuses" aria-label="Progress">
          {m.statuses.map((s) => (
            <li key={s.id} class={s.inProgress ? 'running' : 'done'}>
              {s.message}
              {typeof s.code === 'string' && (
                <details>
                  <summary>code</summary>
                  <pre>
                    <code>{s.code}</code>
                  </pre>
                </details>
              )}
            </li>
          ))}
        </ul>
      )}
      {m.role === 'user' ? (
        <p class="text">{m.content}</p>
      ) : (
        // sanitised by renderMarkdown (DOMPurify); raw HTML in the answer is escaped
        <div class="markdown" dangerouslySetInnerHTML={{ __html: html }} />
      )}
      {m.status === 'streaming' && m.content === '' && <p class="muted">Thinking…</p>}
      {m.generatedFiles.length > 0 && (
        <div class="generated" aria-label="Generated files">
          {m.generatedFiles.map((f) =>
            IMAGE_TYPES.has(f.mime) ? (
              <GeneratedImage key={f.fileId} file={f} />
            ) : (
              <button key={f.fileId} type="button" onClick={() => void download(f)}>
                Download {f.name}
              </button>
            ),
          )}
        </div>
      )}
      {m.sources.length > 0 && (
        <section class="sources" aria-label="Sources">
          <h3>Sources</h3>
          <ol>
            {m.sources.map((s) => (
              <li key={s.n} id={`${anchor}-${s.n}`} value={s.n}>
                <strong>{s.name}</strong> <span class="muted">{s.location}</span>
                {s.snippet && <blockquote>{s.snippet}</blockquote>}
              </li>
            ))}
          </ol>
        </section>
      )}
      {m.status === 'cancelled' && <p class="muted">Stopped.</p>}
      {m.error && (
        <p class="error" role="alert">
          {m.error}
        </p>
      )}
      {m.usage && <UsageLine usage={m.usage} model={m.model} />}
    </article>
  );
}
