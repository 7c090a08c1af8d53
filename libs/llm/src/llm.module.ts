import { type DynamicModule, Module } from '@nestjs/common';
import { LlmService } from './llm.service';

/**
 * The model catalogue and its providers, built before the app (the embeddings
 * model is checked against it before any I/O). Global: every domain that calls
 * a model injects `LlmService`.
 */
@Module({})
export class LlmModule {
  static forRoot(llm: LlmService): DynamicModule {
    return {
      module: LlmModule,
      global: true,
      providers: [{ provide: LlmService, useValue: llm }],
      exports: [LlmService],
    };
  }
}
