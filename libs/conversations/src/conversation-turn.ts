import type { ConversationRepository } from './conversation.repository';
import type { MessageFile, MessageSource, MessageUsage, TurnOutcome } from './conversation.types';

/** Answers longer than this are stored cut (the stream itself is not affected). */
export const MAX_STORED_ANSWER_CHARS = 1_000_000;

/**
 * The assistant message of one turn while it streams: collects the answer,
 * sources, generated files and the outcome, and settles the stored message
 * exactly once. A turn closed before its end was seen (the client left, the
 * request was stopped) is stored as `cancelled` with the partial text.
 */
export class ConversationTurn {
  #text = '';
  #sources: MessageSource[] = [];
  #files: MessageFile[] = [];
  #error: { code: string; message: string } | null = null;
  #settled: Promise<boolean> | undefined;

  constructor(
    private readonly repo: ConversationRepository,
    private readonly ownerUserId: string,
    readonly conversationId: string,
    readonly messageId: string,
  ) {}

  appendText(text: string): void {
    if (this.#text.length < MAX_STORED_ANSWER_CHARS)
      this.#text = (this.#text + text).slice(0, MAX_STORED_ANSWER_CHARS);
  }

  setSources(sources: MessageSource[]): void {
    this.#sources = sources;
  }

  addGeneratedFiles(files: MessageFile[]): void {
    const known = new Set(this.#files.map((f) => f.fileId));
    this.#files.push(...files.filter((f) => !known.has(f.fileId)));
  }

  setError(error: { code: string; message: string }): void {
    this.#error ??= error;
  }

  get text(): string {
    return this.#text;
  }

  /** The stream's end: complete, cancelled (kill switch) or error. */
  end(o: {
    status: 'complete' | 'cancelled' | 'error';
    model: string | null;
    usage: MessageUsage | null;
  }): Promise<boolean> {
    return this.#settle({
      status: o.status,
      model: o.model,
      usage: o.usage,
    });
  }

  /**
   * The connection closed. Without a prior end the turn was cancelled, unless
   * it was refused with an error before streaming (then it is stored as one).
   */
  close(): Promise<boolean> {
    const failed = this.#error !== null && this.#error.code !== 'cancelled';
    return this.#settle({ status: failed ? 'error' : 'cancelled', model: null, usage: null });
  }

  #settle(o: Pick<TurnOutcome, 'status' | 'model' | 'usage'>): Promise<boolean> {
    this.#settled ??= this.repo.settleMessage(this.ownerUserId, this.messageId, {
      ...o,
      content: this.#text,
      sources: this.#sources,
      generatedFiles: this.#files,
      error: o.status === 'complete' ? null : this.#error,
    });
    return this.#settled;
  }
}
