import { AppError } from '@switchboard/common';
import type { Observable } from 'rxjs';
import type { CatalogueModel } from './catalogue.types';
import type { ChatEvent, ProviderChatRequest } from './chat.types';
import type { LlmProvider, StreamOptions } from './provider.port';

export type ServedModel = CatalogueModel & { simulated: boolean };

/**
 * The model catalogue joined with the registered providers. A catalogue entry is
 * served only when its provider is registered (configured), and it is routed
 * strictly by its `provider` field, never by its name.
 */
export class LlmService {
  readonly #providers = new Map<string, LlmProvider>();
  readonly #models = new Map<string, ServedModel>();

  constructor(catalogue: CatalogueModel[], providers: LlmProvider[]) {
    for (const p of providers) this.#providers.set(p.name, p);
    for (const m of catalogue) {
      const p = this.#providers.get(m.providerInstance ?? m.provider);
      if (p && p.kind === m.provider) this.#models.set(m.id, { ...m, simulated: p.simulated });
    }
  }

  get simulated(): boolean {
    return [...this.#providers.values()].some((p) => p.simulated);
  }

  models(): ServedModel[] {
    return [...this.#models.values()];
  }

  providers(): LlmProvider[] {
    return [...this.#providers.values()];
  }

  /** @throws AppError model_not_found */
  resolve(id: string | undefined): ServedModel {
    const m = id === undefined ? undefined : this.#models.get(id);
    if (!m)
      throw new AppError(
        'model_not_found',
        `The model "${String(id).slice(0, 200)}" does not exist or is not available.`,
        { param: 'model' },
      );
    return m;
  }

  providerFor(model: CatalogueModel): LlmProvider {
    const p = this.#providers.get(model.providerInstance ?? model.provider);
    if (!p) throw new AppError('model_not_found');
    return p;
  }

  /** Whether the model's provider answers this request in one non-streaming call when asked. */
  answersWhole(model: CatalogueModel, request: Omit<ProviderChatRequest, 'upstreamModel'>): boolean {
    const p = this.providerFor(model);
    return p.answersWhole?.({ ...request, upstreamModel: model.upstreamModel }) ?? false;
  }

  /** One upstream attempt against one model (retries and fallbacks wrap this). */
  stream(
    model: CatalogueModel,
    request: Omit<ProviderChatRequest, 'upstreamModel'>,
    options?: StreamOptions,
  ): Observable<ChatEvent> {
    return this.providerFor(model).stream(
      { ...request, upstreamModel: model.upstreamModel },
      options,
    );
  }
}
