/**
 * Incremental Server-Sent Events parser (the `text/event-stream` format of the
 * HTML standard): feed it decoded text in chunks of any size, it returns the
 * complete events. A frame may be split anywhere, including inside `\r\n`.
 */
export type SseMessage =
  /** a `data:` event (multiple data lines joined with `\n`) */
  | { kind: 'data'; data: string; event?: string; id?: string }
  /** a comment line (`: keep-alive`), the gateway's heartbeat */
  | { kind: 'comment'; text: string };

export class SseParser {
  #buf = '';
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;
  /** a `\r` ended the last chunk: a following `\n` belongs to it */
  #pendingCr = false;

  /** Parses a chunk; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    if (this.#pendingCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.#pendingCr = chunk.endsWith('\r');
    this.#buf += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buf);
      if (!m) break;
      // a trailing lone `\r` may be the first half of `\r\n`: its line is complete either way
      const line = this.#buf.slice(0, m.index);
      this.#buf = this.#buf.slice(m.index + m[0].length);
      this.#line(line, out);
    }
    return out;
  }

  /** Call at end of stream; an event without its blank line is dropped, as the standard says. */
  end(): void {
    this.#buf = '';
    this.#data = [];
    this.#pendingCr = false;
  }

  /** bytes received but not yet part of a complete line or event */
  get pending(): boolean {
    return this.#buf.length > 0 || this.#data.length > 0;
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.#data.length > 0)
        out.push({
          kind: 'data',
          data: this.#data.join('\n'),
          ...(this.#event !== undefined ? { event: this.#event } : {}),
          ...(this.#id !== undefined ? { id: this.#id } : {}),
        });
      this.#data = [];
      this.#event = undefined;
      return;
    }
    if (line.startsWith(':')) {
      out.push({ kind: 'comment', text: line.slice(1).trim() });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    // `retry` and unknown fields are ignored
  }
}
