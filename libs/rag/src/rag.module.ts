import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import {
  BLOB_STORE,
  type BlobStore,
  ExternalSourceService,
  ExtractionService,
  FilesService,
  INGEST_FILE_JOB,
  JobWorker,
} from '@switchboard/datasources';
import type { LlmService } from '@switchboard/llm';
import { ConfigError } from '@switchboard/config';
import { DATABASE, type Database } from '@switchboard/storage';
import type { ChunkerOptions } from './chunking/chunker';
import { ContextBuilder } from './context/context-builder';
import { DataSourceResolver } from './context/datasource-resolver';
import { EMBEDDER, type Embedder, LlmEmbedder } from './embedding/embedder.port';
import { ChunkIndexRepository } from './index/chunk-index.repository';
import { IngestionPipeline } from './ingestion/ingestion.pipeline';
import { RetrievalService, type RetrievalLogger } from './retrieval/retrieval.service';

export const RAG_OPTIONS = Symbol('RAG_OPTIONS');

export interface RagModuleOptions {
  /**
   * Embeddings: an explicit embedder, or a catalogue model served by `llm`.
   * Neither = full-text retrieval only (reported by `RetrievalService.describe()`).
   */
  embedder?: Embedder | null;
  embedding?: { llm: LlmService; modelId: string; dimensions: number; batchSize?: number };
  /** must match the `textSearchConfig` given to `createRagMigrations` */
  textSearchConfig?: string;
  chunking?: ChunkerOptions;
  /** where retrieval logs (default: Nest's logger) */
  logger?: RetrievalLogger;
}

export interface RagModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => RagModuleOptions | Promise<RagModuleOptions>;
}

const nestLogger = new Logger('Rag');

/**
 * Registers the ingestion handler with the datasources job worker (which
 * starts on bootstrap, after every module's init) and refuses to boot when the
 * index holds vectors of another size than the embedder makes: each ingestion
 * would fail.
 */
@Injectable()
export class RagLifecycle implements OnModuleInit {
  constructor(
    private readonly worker: JobWorker,
    private readonly pipeline: IngestionPipeline,
    private readonly index: ChunkIndexRepository,
    @Inject(EMBEDDER) private readonly embedder: Embedder | null,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.embedder) {
      const stored = await this.index.vectorDimensions();
      if (stored !== null && stored !== this.embedder.dimensions)
        throw new ConfigError([
          `EMBEDDING_DIMENSIONS: the chunk index holds vectors of ${stored} dimensions, not ${this.embedder.dimensions}; changing it needs a new migration and re-embedding`,
        ]);
    }
    this.worker.register(INGEST_FILE_JOB, this.pipeline);
  }
}

const providers: Provider[] = [
  {
    provide: EMBEDDER,
    inject: [RAG_OPTIONS],
    useFactory: (o: RagModuleOptions): Embedder | null => {
      if (o.embedder) return o.embedder;
      if (!o.embedding) return null;
      const e = o.embedding;
      return new LlmEmbedder(e.llm, e.modelId, e.dimensions, e.batchSize);
    },
  },
  {
    provide: ChunkIndexRepository,
    inject: [DATABASE],
    useFactory: (db: Database) => new ChunkIndexRepository(db),
  },
  {
    provide: RetrievalService,
    inject: [ChunkIndexRepository, EMBEDDER, RAG_OPTIONS],
    useFactory: (index: ChunkIndexRepository, embedder: Embedder | null, o: RagModuleOptions) =>
      new RetrievalService(index, embedder, {
        textSearchConfig: o.textSearchConfig,
        logger: o.logger ?? nestLogger,
      }),
  },
  {
    provide: IngestionPipeline,
    inject: [
      DATABASE,
      FilesService,
      BLOB_STORE,
      ExtractionService,
      ChunkIndexRepository,
      EMBEDDER,
      RAG_OPTIONS,
    ],
    useFactory: (
      db: Database,
      files: FilesService,
      blobs: BlobStore,
      extraction: ExtractionService,
      index: ChunkIndexRepository,
      embedder: Embedder | null,
      o: RagModuleOptions,
    ) =>
      new IngestionPipeline(db, files, blobs, extraction, index, embedder, {
        chunking: o.chunking,
      }),
  },
  {
    provide: DataSourceResolver,
    inject: [FilesService, ExternalSourceService],
    useFactory: (f: FilesService, sources: ExternalSourceService) =>
      new DataSourceResolver(f, sources),
  },
  {
    provide: ContextBuilder,
    inject: [FilesService, RetrievalService],
    useFactory: (f: FilesService, r: RetrievalService) => new ContextBuilder(f, r),
  },
  RagLifecycle,
];

const exported = [
  EMBEDDER,
  ChunkIndexRepository,
  RetrievalService,
  IngestionPipeline,
  DataSourceResolver,
  ContextBuilder,
];

/**
 * Chunking, the chunk index, hybrid retrieval and context assembly. Needs
 * DATABASE (with `ragMigrations` applied after `datasourceMigrations`) and
 * `DatasourcesModule` (global).
 */
@Module({})
export class RagModule {
  static forRoot(options: RagModuleOptions = {}): DynamicModule {
    return {
      module: RagModule,
      providers: [{ provide: RAG_OPTIONS, useValue: options }, ...providers],
      exports: exported,
    };
  }

  static forRootAsync(options: RagModuleAsyncOptions): DynamicModule {
    return {
      module: RagModule,
      imports: options.imports ?? [],
      providers: [
        { provide: RAG_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
        ...providers,
      ],
      exports: exported,
    };
  }
}
