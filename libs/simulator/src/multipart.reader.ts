import busboy from 'busboy';
import type { SimRequest } from './sim-http';
import { BadRequest } from './wire.util';

/** A file part of a multipart/form-data body. */
export interface FormFile {
  field: string;
  /** The part's file name, without any directory (busboy keeps the base name only). */
  filename: string;
  mimeType: string;
  content: Buffer;
}

export interface MultipartForm {
  /** Text fields; a repeated name keeps its first value. */
  fields: Map<string, string>;
  files: FormFile[];
}

/** The body went over the simulator's cap: answered with 413. */
export class BodyTooLarge extends Error {}

/** Small forms only: the Files API sends `purpose` and perhaps `expires_after[…]` besides the file. */
const FORM_LIMITS: busboy.Limits = { fields: 20, fieldSize: 64 * 1024, files: 5, parts: 25 };

/**
 * Reads a whole multipart/form-data body into memory, at most `maxBytes` of it
 * (the raw body, framing included). Malformed bodies reject with BadRequest; an
 * oversized one with BodyTooLarge once the cap is crossed, while the rest of the
 * body is drained so the client still reads the answer.
 */
export function readMultipart(req: SimRequest, maxBytes: number): Promise<MultipartForm> {
  let parser: busboy.Busboy;
  try {
    if (!/^multipart\/form-data\b/i.test(String(req.headers['content-type']))) {
      throw new Error(`got ${String(req.headers['content-type'] ?? 'no content type')}`);
    }
    parser = busboy({
      headers: req.headers,
      limits: FORM_LIMITS,
      // Fetch's FormData writes non-ASCII file names as raw UTF-8 (WHATWG HTML
      // multipart encoding); busboy would read them as latin1 by default.
      defParamCharset: 'utf8',
    });
  } catch (e) {
    req.resume();
    return Promise.reject(new BadRequest(`Expected a multipart/form-data body (${message(e)}).`));
  }

  return new Promise<MultipartForm>((resolve, reject) => {
    const form: MultipartForm = { fields: new Map(), files: [] };
    let settled = false;
    let size = 0;

    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      req.off('data', feed);
      req.off('end', finish);
      parser.removeAllListeners();
      parser.on('error', () => undefined);
      parser.destroy();
      req.resume();
      reject(error);
    };
    const feed = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        fail(new BodyTooLarge(`Request body exceeds ${maxBytes} bytes.`));
        return;
      }
      parser.write(chunk);
    };
    const finish = (): void => {
      parser.end();
    };

    parser.on('field', (name, value) => {
      if (!form.fields.has(name)) form.fields.set(name, value);
    });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      // A cut body destroys the part with an error the parser reports itself.
      stream.on('error', () => undefined);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('end', () => {
        form.files.push({
          field,
          filename: info.filename ?? '',
          mimeType: info.mimeType,
          content: Buffer.concat(chunks),
        });
      });
    });
    const tooMany = (): void => fail(new BadRequest('The multipart form has too many parts.'));
    parser.on('partsLimit', tooMany);
    parser.on('filesLimit', tooMany);
    parser.on('fieldsLimit', tooMany);
    parser.on('error', (e: unknown) =>
      fail(new BadRequest(`The multipart body is malformed: ${message(e)}.`)),
    );
    parser.once('close', () => {
      if (settled) return;
      settled = true;
      resolve(form);
    });

    req.on('data', feed);
    req.once('end', finish);
    req.once('error', (e: Error) => fail(e));
    // A client gone mid-upload: nobody reads the answer, but settle anyway.
    req.once('close', () => {
      if (!req.complete) fail(new Error('The client went away during the upload.'));
    });
  });
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 200);
}
