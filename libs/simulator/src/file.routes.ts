import { BodyTooLarge, readMultipart } from './multipart.reader';
import { openAiError } from './openai.protocol';
import { sendError, sendJson } from './reply.player';
import { contentDisposition, type SimRequest, type SimResponse } from './sim-http';
import type { UserFile, UserFileStore } from './user-file.store';
import { BadRequest } from './wire.util';

/**
 * OpenAI Files API, relative to the API root (`/v1`, `/openai/v1`, `/openai`):
 * `POST /files` (multipart `file` + `purpose`), `GET /files`, `GET /files/{id}`,
 * `GET /files/{id}/content`, `DELETE /files/{id}`.
 * https://platform.openai.com/docs/api-reference/files
 */

/** Upload purposes `files.create` accepts (`FilePurpose` in the SDK). */
export const FILE_PURPOSES: readonly string[] = Object.freeze([
  'assistants',
  'batch',
  'fine-tune',
  'vision',
  'user_data',
  'evals',
]);

export async function serveFiles(
  store: UserFileStore,
  method: string,
  path: string,
  query: URLSearchParams,
  req: SimRequest,
  res: SimResponse,
  maxBodyBytes: number,
): Promise<void> {
  if (path === '/files') {
    if (method === 'POST') return upload(store, req, res, maxBodyBytes);
    if (method === 'GET') return sendJson(res, 200, fileList(store, query));
  }
  const match = /^\/files\/([^/]+)(\/content)?$/.exec(path);
  if (match === null || !(method === 'GET' || (method === 'DELETE' && match[2] === undefined))) {
    return sendError(res, openAiError('not_found', `Unknown request URL: ${method} ${path}.`));
  }
  const id = decodeURIComponent(match[1]);
  const file = store.get(id);
  if (file === undefined) {
    return sendError(res, openAiError('not_found', `No such File object: ${id}`, 'id'));
  }
  if (method === 'DELETE') {
    store.delete(id);
    return sendJson(res, 200, { id, object: 'file', deleted: true });
  }
  if (match[2] === undefined) return sendJson(res, 200, fileObject(file));
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': file.content.length,
    'content-disposition': contentDisposition(file.filename),
  });
  res.end(file.content);
}

async function upload(
  store: UserFileStore,
  req: SimRequest,
  res: SimResponse,
  maxBodyBytes: number,
): Promise<void> {
  let stored: UserFile;
  try {
    const form = await readMultipart(req, maxBodyBytes);
    const purpose = form.fields.get('purpose');
    if (purpose === undefined || purpose === '') {
      throw new BadRequest("Missing required parameter: 'purpose'.", 'purpose');
    }
    if (!FILE_PURPOSES.includes(purpose)) {
      throw new BadRequest(
        `Invalid value for 'purpose': '${purpose}' is not one of ${FILE_PURPOSES.map((p) => `'${p}'`).join(', ')}.`,
        'purpose',
      );
    }
    const files = form.files.filter((f) => f.field === 'file');
    if (files.length === 0) {
      throw new BadRequest("Missing required parameter: 'file' (a file part).", 'file');
    }
    if (files.length > 1) throw new BadRequest("Send exactly one 'file' part.", 'file');
    const [file] = files;
    if (file.filename === '') throw new BadRequest('The uploaded file has no name.', 'file');
    if (file.content.length === 0) throw new BadRequest('File is empty.', 'file');
    stored = store.add(file.filename, purpose, file.content);
  } catch (e) {
    if (e instanceof BodyTooLarge) {
      return sendError(res, { ...openAiError('bad_request', e.message), status: 413 });
    }
    if (e instanceof BadRequest) {
      return sendError(res, openAiError('bad_request', e.message, e.param));
    }
    res.destroy();
    return;
  }
  sendJson(res, 200, fileObject(stored));
}

/** The SDK's `FileObject`. */
export function fileObject(f: UserFile): Record<string, unknown> {
  return {
    id: f.id,
    object: 'file',
    bytes: f.content.length,
    created_at: f.createdAt,
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    expires_at: null,
    status_details: null,
  };
}

/**
 * A cursor page, newest first unless `order=asc`: `limit` 1..10000 (default
 * 10000), `after` a file id, `purpose` a filter.
 */
function fileList(store: UserFileStore, query: URLSearchParams): unknown {
  const requested = Number(query.get('limit') ?? '10000');
  const limit = Number.isInteger(requested) ? Math.min(10_000, Math.max(1, requested)) : 10_000;
  const purpose = query.get('purpose');
  let files = store.list().filter((f) => purpose === null || f.purpose === purpose);
  if (query.get('order') !== 'asc') files = files.reverse();
  const after = query.get('after');
  const start = after === null ? 0 : files.findIndex((f) => f.id === after) + 1;
  const page = files.slice(start, start + limit);
  return {
    object: 'list',
    data: page.map(fileObject),
    first_id: page.at(0)?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
    has_more: start + limit < files.length,
  };
}
