import { AppError } from '@switchboard/common';
import type { LlmService } from '@switchboard/llm';

/** Turns texts into vectors with one fixed model and dimension. */
export interface Embedder {
  /** public catalogue id, stored with every chunk */
  readonly modelId: string;
  readonly dimensions: number;
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

export const EMBEDDER = Symbol('EMBEDDER');

/**
 * Embeds through the gateway's own provider registry (so the simulator, OpenAI,
 * Azure or Bedrock serve embeddings alike), in batches.
 */
export class LlmEmbedder implements Embedder {
  constructor(
    private readonly llm: LlmService,
    readonly modelId: string,
    readonly dimensions: number,
    private readonly batchSize = 64,
  ) {}

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const model = this.llm.resolve(this.modelId);
    const provider = this.llm.providerFor(model);
    if (!provider.embed)
      throw new AppError('unsupported_capability', `${this.modelId} cannot embed.`);
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const batch = texts.slice(i, i + this.batchSize);
      const res = await provider.embed(model.upstreamModel, batch, {
        dimensions: this.dimensions,
        signal,
      });
      if (
        res.vectors.length !== batch.length ||
        res.vectors.some((v) => v.length !== this.dimensions)
      )
        throw new Error(
          `${this.modelId} returned ${res.vectors.length} vectors of the wrong shape`,
        );
      out.push(...res.vectors);
    }
    return out;
  }
}

/** pgvector's text form */
export function toVectorLiteral(v: number[]): string {
  return `[${v.map((x) => (Number.isFinite(x) ? x : 0)).join(',')}]`;
}
