import type { Principal } from '@switchboard/auth';
import { embedText } from '@switchboard/simulator';
import type { Embedder } from '../src/embedding/embedder.port';

export function user(userId: string, accountIds: string[] = []): Principal {
  return { kind: 'user', userId, accountIds, scopes: ['chat', 'files'], limits: {} };
}

/** the simulator's deterministic bag-of-words embeddings, in process */
export class FakeEmbedder implements Embedder {
  calls = 0;
  failuresLeft = 0;
  constructor(
    readonly dimensions = 64,
    readonly modelId = 'sim-embed',
  ) {}
  embed(texts: string[]): Promise<number[][]> {
    this.calls++;
    if (this.failuresLeft !== 0) {
      this.failuresLeft--;
      return Promise.reject(new Error('embedding upstream unavailable'));
    }
    return Promise.resolve(texts.map((t) => Array.from(embedText(t, this.dimensions))));
  }
}
