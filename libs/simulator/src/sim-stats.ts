import type { SimResponse } from './sim-http';

export type SimProtocol = 'openai' | 'azure' | 'bedrock' | 'gemini';

/**
 * Counters over model calls (chat and embeddings) of every protocol.
 * started = open + completed + aborted + dropped.
 */
export interface SimStats {
  /** In flight now. */
  open: number;
  started: number;
  /** The response ended normally (error statuses included). */
  completed: number;
  /** The client went away before the response ended. */
  aborted: number;
  /** The simulator cut the connection on purpose (`fail=drop`, or a failure `after` n tokens). */
  dropped: number;
}

export interface RecordedRequest {
  protocol: SimProtocol;
  method: string;
  /** Path and query as received. */
  path: string;
  /** Parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** Epoch ms. */
  at: number;
}

export const REQUEST_LOG_SIZE = 100;

export class SimRecorder {
  private counters = { started: 0, completed: 0, aborted: 0, dropped: 0 };
  private inFlight = 0;
  private readonly log: RecordedRequest[] = [];
  private logNext = 0;
  private readonly dropping = new WeakSet<SimResponse>();

  /** Counts `res` as started now and classifies it when its connection closes. */
  track(res: SimResponse): void {
    this.counters.started++;
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      if (res.writableEnded) this.counters.completed++;
      else if (this.dropping.has(res)) this.counters.dropped++;
      else this.counters.aborted++;
    });
  }

  /** Marks a response the simulator is about to destroy on purpose. */
  markDropped(res: SimResponse): void {
    this.dropping.add(res);
  }

  record(entry: RecordedRequest): void {
    if (this.log.length < REQUEST_LOG_SIZE) this.log.push(entry);
    else this.log[this.logNext] = entry;
    this.logNext = (this.logNext + 1) % REQUEST_LOG_SIZE;
  }

  /** The last `limit` requests, oldest first. */
  recent(limit: number): RecordedRequest[] {
    const ordered =
      this.log.length < REQUEST_LOG_SIZE
        ? this.log.slice()
        : [...this.log.slice(this.logNext), ...this.log.slice(0, this.logNext)];
    const n = Math.min(Math.max(0, limit), REQUEST_LOG_SIZE);
    return n === 0 ? [] : ordered.slice(-n);
  }

  stats(): SimStats {
    return { open: this.inFlight, ...this.counters };
  }

  /** Zeroes the counters and forgets recorded requests; `open` keeps counting what is really in flight. */
  reset(): void {
    this.counters = { started: 0, completed: 0, aborted: 0, dropped: 0 };
    this.log.length = 0;
    this.logNext = 0;
  }
}
