import { AppError } from '@switchboard/common';

export interface InlineData {
  mimeType: string;
  /** base64 payload, exactly as in the URL */
  base64: string;
}

const DATA_URL = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)?((?:;[a-z0-9-]+=[^;,]*)*)(;base64)?,(.*)$/is;

/**
 * Splits a `data:` URL into media type and base64 payload (RFC 2397). Non-base64
 * payloads are percent-decoded and re-encoded, so callers always get base64.
 */
export function parseDataUrl(url: string): InlineData | undefined {
  const m = DATA_URL.exec(url);
  if (!m) return undefined;
  const mimeType = (m[1] ?? 'text/plain').toLowerCase();
  const payload = m[4];
  if (m[3]) return { mimeType, base64: payload.replace(/\s+/g, '') };
  return { mimeType, base64: Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64') };
}

export function isHttpsUrl(url: string): boolean {
  return /^https:\/\//i.test(url);
}

/** The image media type an https URL most likely serves, from its extension. */
export function imageMimeTypeFromUrl(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // keep the raw string
  }
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  switch (ext) {
    case undefined:
      return 'image/jpeg';
    case 'png':
      return 'image/png';
    case 'gif':
      return 'image/gif';
    case 'webp':
      return 'image/webp';
    case 'heic':
      return 'image/heic';
    case 'heif':
      return 'image/heif';
    default:
      return 'image/jpeg';
  }
}

export function unsupportedImage(provider: string, detail: string): AppError {
  return new AppError('unsupported_parameter', `${provider}: ${detail}`, { param: 'messages' });
}
