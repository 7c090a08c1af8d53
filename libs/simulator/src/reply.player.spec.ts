import { EventEmitter } from 'node:events';
import type { ChatDialect } from './dialect';
import { planReply } from './reply.planner';
import { playReply } from './reply.player';
import type { SimResponse } from './sim-http';

/** A response whose socket never drains until told to. */
class StalledResponse extends EventEmitter implements SimResponse {
  headersSent = false;
  writableEnded = false;
  writes: string[] = [];
  accepting = false;

  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  flushHeaders(): void {}
  write(chunk: string | Uint8Array): boolean {
    this.writes.push(String(chunk));
    return this.accepting;
  }
  end(chunk?: string | Uint8Array): this {
    if (chunk !== undefined) this.writes.push(String(chunk));
    this.writableEnded = true;
    return this;
  }
  destroy(): this {
    this.emit('close');
    return this;
  }
}

const dialect: ChatDialect = {
  streamHeaders: {},
  encoder: (reply) => ({
    open: () => '[',
    piece: (i) => reply.pieces.at(i),
    close: () => ']',
  }),
  body: () => ({}),
  error: () => ({ status: 500, headers: {}, body: {} }),
};

function play(content: string, res: StalledResponse): void {
  const reply = planReply({ model: 'm', messages: [{ role: 'user', text: content }] });
  playReply({ res, dialect, reply, stream: true, onDrop: () => undefined });
}

/** the player's pacing runs on timers: the test moves the clock instead of waiting */
const advance = (ms: number): Promise<void> => jest.advanceTimersByTimeAsync(ms);

describe('playReply back-pressure', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  it('stops writing when the socket is full and resumes on drain', async () => {
    const res = new StalledResponse();
    play('#sim tokens=100000', res);
    await advance(20);
    // One bounded batch, then nothing until 'drain', however long it waits.
    expect(res.writes).toHaveLength(1);
    expect(res.writes[0].split(' ').length).toBeLessThanOrEqual(256);
    await advance(60_000);
    expect(res.writes).toHaveLength(1);

    res.accepting = true;
    res.emit('drain');
    await jest.runAllTimersAsync();
    expect(res.writableEnded).toBe(true);
    expect(res.writes.join('').split(' ')).toHaveLength(100000);
  });

  it('stops its timers when the client goes away', async () => {
    const res = new StalledResponse();
    res.accepting = true;
    play('#sim tokens=50 tps=100', res);
    await advance(20);
    const before = res.writes.length;
    expect(before).toBeGreaterThan(0);
    res.emit('close');
    // 50 tokens at 100/s would all be out after 500 ms
    await advance(5_000);
    expect(jest.getTimerCount()).toBe(0);
    expect(res.writes.length).toBe(before);
    expect(res.writableEnded).toBe(false);
  });
});
