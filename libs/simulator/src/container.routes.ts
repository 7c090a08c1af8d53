import { MOUNT_DIR } from './code-interpreter.run';
import { containerFileChunks } from './container-file.content';
import type { ContainerFile, ContainerStore, SimContainer } from './container.store';
import { openAiError } from './openai.protocol';
import { sendError, sendJson } from './reply.player';
import { contentDisposition, type SimResponse } from './sim-http';

/**
 * OpenAI container routes, relative to the API root (`/v1`, `/openai/v1`, `/openai`):
 * `GET /containers/{id}`, `GET /containers/{id}/files`,
 * `GET /containers/{id}/files/{file_id}`, `GET /containers/{id}/files/{file_id}/content`.
 * https://platform.openai.com/docs/api-reference/container-files
 */
export function serveContainers(
  store: ContainerStore,
  method: string,
  path: string,
  query: URLSearchParams,
  res: SimResponse,
): void {
  const match = /^\/containers\/([^/]+)(?:\/files(?:\/([^/]+)(\/content)?)?)?$/.exec(path);
  if (match === null || method !== 'GET') {
    return sendError(res, openAiError('not_found', `Unknown request URL: ${method} ${path}.`));
  }
  const containerId = decodeURIComponent(match[1]);
  const container = store.get(containerId);
  if (container === undefined) {
    return sendError(
      res,
      openAiError('not_found', `Container with id '${containerId}' not found.`),
    );
  }
  if (!path.includes('/files')) return sendJson(res, 200, containerObject(store, container));
  if (match[2] === undefined) return sendJson(res, 200, fileList(container, query));

  const fileId = decodeURIComponent(match[2]);
  const file = container.files.find((f) => f.id === fileId);
  if (file === undefined) {
    return sendError(res, openAiError('not_found', `File with id '${fileId}' not found.`));
  }
  if (match[3] === undefined) return sendJson(res, 200, fileObject(file));
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': file.bytes,
    'content-disposition': contentDisposition(file.name),
  });
  // A user file is served as uploaded; a produced one is generated as it is sent.
  if (file.content !== undefined) res.end(file.content);
  else sendChunks(res, containerFileChunks(file.name, file.requestedBytes));
}

/** Writes generated pieces as the client takes them; stops when it goes away. */
function sendChunks(res: SimResponse, chunks: Iterable<Buffer>): void {
  const pieces = chunks[Symbol.iterator]();
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  const pump = (): void => {
    while (!closed) {
      const next = pieces.next();
      if (next.done === true) {
        res.end();
        return;
      }
      if (!res.write(next.value)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

function containerObject(store: ContainerStore, c: SimContainer): unknown {
  return {
    id: c.id,
    object: 'container',
    created_at: c.createdAt,
    status: 'running',
    expires_after: { anchor: 'last_active_at', minutes: store.expiryMinutes },
    last_active_at: Math.floor(c.lastActiveMs / 1000),
    memory_limit: '1g',
    name: c.name,
  };
}

function fileObject(f: ContainerFile): unknown {
  return {
    id: f.id,
    object: 'container.file',
    container_id: f.containerId,
    created_at: f.createdAt,
    bytes: f.bytes,
    path: `${MOUNT_DIR}/${f.name}`,
    source: f.source,
  };
}

/** A cursor page: `limit` 1..100 (default 20), `order` asc|desc (default desc), `after` a file id. */
function fileList(c: SimContainer, query: URLSearchParams): unknown {
  const requested = Number(query.get('limit') ?? '20');
  const limit = Number.isInteger(requested) ? Math.min(100, Math.max(1, requested)) : 20;
  const ordered = query.get('order') === 'asc' ? c.files : c.files.slice().reverse();
  const after = query.get('after');
  const start = after === null ? 0 : ordered.findIndex((f) => f.id === after) + 1;
  const page = ordered.slice(start, start + limit);
  return {
    object: 'list',
    data: page.map(fileObject),
    first_id: page.at(0)?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
    has_more: start + limit < ordered.length,
  };
}
