import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Logger } from '@nestjs/common';
import type { FileRecord } from '@switchboard/datasources';

const log = new Logger('files');

/**
 * `attachment` with both file name forms of RFC 6266 section 4.3: a quoted
 * ASCII fallback for old clients and `filename*` (RFC 5987) carrying the exact
 * name in UTF-8. Neither can break out of the header: the fallback keeps
 * printable ASCII except `"`, `\` and `%` (some clients percent-decode it), and
 * the extended value escapes everything outside RFC 5987's attr-char.
 */
export function contentDisposition(filename: string): string {
  // a lone surrogate has no UTF-8 form (encodeURIComponent would throw)
  const name = filename.replace(/\p{Cs}/gu, '\uFFFD') || 'download';
  const fallback = name.replace(/[^\x20-\x7e]|["\\%/]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * Headers of a file download. The bytes are users' content served from the API's
 * origin, so browsers must neither sniff nor render them (an HTML or SVG file
 * must not run script here) and no shared cache may keep them.
 */
export function downloadHeaders(file: FileRecord): Record<string, string> {
  return {
    'content-type': file.mime,
    'content-length': String(file.size),
    'content-disposition': contentDisposition(file.name),
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'cache-control': 'private, no-store',
  };
}

/**
 * `HEAD`: the headers `GET` would send, without the body. The blob was opened
 * (so a file gone from storage is 404 here too) and is released unread.
 */
export function sendFileHeaders(res: ServerResponse, file: FileRecord, body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
  res.statusCode = 200;
  for (const [k, v] of Object.entries(downloadHeaders(file))) res.setHeader(k, v);
  res.end();
}

/**
 * Streams a file's bytes with back-pressure. When the response closes, finished
 * or not (a client that went away), `body` is destroyed, which releases its file
 * handle or S3 connection. A storage failure before the first byte rejects with
 * the download headers removed, so the error goes out as JSON; after it, the
 * response can only be cut short (its content-length tells the client so).
 */
export function sendFileContent(
  res: ServerResponse,
  file: FileRecord,
  body: Readable,
): Promise<void> {
  const headers = downloadHeaders(file);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const release = () => {
      if (!body.destroyed) body.destroy();
    };
    const onClose = () => {
      release();
      if (settled) return;
      settled = true;
      resolve();
    };
    const onError = (err: Error) => {
      body.unpipe(res);
      release();
      if (settled) return;
      settled = true;
      if (res.headersSent) {
        log.warn(`download of file ${file.id} cut short: ${err.message}`);
        res.destroy();
        resolve();
        return;
      }
      for (const k of Object.keys(headers)) res.removeHeader(k);
      reject(err);
    };
    body.on('error', onError);
    if (res.destroyed) return onClose();
    res.once('close', onClose);
    res.statusCode = 200;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    body.pipe(res);
  });
}
