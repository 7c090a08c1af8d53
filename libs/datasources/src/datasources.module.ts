import { join } from 'node:path';
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type Provider,
} from '@nestjs/common';
import { S3Client } from '@aws-sdk/client-s3';
import { DATABASE, type Database } from '@switchboard/storage';
import { BLOB_STORE, type BlobStore } from './blob/blob-store.port';
import { FsBlobStore } from './blob/fs.blob-store';
import { S3BlobStore } from './blob/s3.blob-store';
import { ExtractionService, type ExtractionLimits } from './extraction/extraction.service';
import {
  ExternalSourceService,
  type ExternalSourceServiceOptions,
} from './external/external-source.service';
import { SsrfGuard, type SsrfGuardOptions } from './external/ssrf-guard';
import { FilesService, type FilesServiceOptions } from './files/files.service';
import { JobQueue, type JobQueueOptions } from './jobs/job-queue';
import { JobWorker, type JobWorkerLogger, type JobWorkerOptions } from './jobs/job-worker';

export const DATASOURCES_OPTIONS = Symbol('DATASOURCES_OPTIONS');

export interface DatasourcesModuleOptions {
  /** DATA_DIR; the fs blob store lives in `<dataDir>/blobs` */
  dataDir: string;
  /** AppConfig.storage.blobStore; an S3 client may be injected (tests, custom endpoints) */
  blobStore: { kind: 'fs' } | { kind: 's3'; bucket: string; prefix: string; client?: S3Client };
  files?: Omit<FilesServiceOptions, 'onQueued'>;
  jobs?: JobQueueOptions;
  /** the ingestion worker of this process; `enabled: false` for API-only replicas */
  worker?: Omit<JobWorkerOptions, 'logger'> & { enabled?: boolean; stopGraceMs?: number };
  /** extraction worker pool and per-file limits (EXTRACTION_*) */
  extraction?: Partial<ExtractionLimits>;
  ssrf?: SsrfGuardOptions;
  external?: Omit<ExternalSourceServiceOptions, 'guard'>;
  /** where the worker logs (default: Nest's logger) */
  logger?: JobWorkerLogger;
}

export interface DatasourcesModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => DatasourcesModuleOptions | Promise<DatasourcesModuleOptions>;
}

const nestLogger = new Logger('Datasources');

/**
 * Starts the ingestion worker once every module has registered its handlers
 * (all `onModuleInit` hooks have run); stops it, and the extraction pool, before
 * storage closes the database.
 */
@Injectable()
export class DatasourcesLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly worker: JobWorker,
    private readonly extraction: ExtractionService,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(DATASOURCES_OPTIONS) private readonly opts: DatasourcesModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!(this.opts.worker?.enabled ?? true)) return;
    // embedded PGlite has exactly one process: a job still `running` was cut off by the last stop
    if (this.db.kind === 'pglite') {
      const r = await this.worker.recoverOrphans();
      if (r.requeued + r.dead > 0)
        (this.opts.logger ?? nestLogger).log(
          `recovered ingestion jobs interrupted by the last stop: ${r.requeued} requeued, ${r.dead} dead-lettered`,
        );
    }
    this.worker.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    // in-flight jobs finish or give their lease back
    await this.worker
      .stop(this.opts.worker?.stopGraceMs ?? 10_000)
      .catch((e: unknown) =>
        (this.opts.logger ?? nestLogger).error(`ingestion worker stop failed: ${String(e)}`),
      );
    await this.extraction.close();
  }
}

const providers: Provider[] = [
  {
    provide: BLOB_STORE,
    inject: [DATASOURCES_OPTIONS],
    useFactory: async (o: DatasourcesModuleOptions): Promise<BlobStore> => {
      if (o.blobStore.kind === 's3') {
        const { bucket, prefix, client } = o.blobStore;
        return new S3BlobStore({ client: client ?? new S3Client({}), bucket, prefix });
      }
      const store = new FsBlobStore(join(o.dataDir, 'blobs'));
      await store.init();
      return store;
    },
  },
  {
    provide: JobQueue,
    inject: [DATABASE, DATASOURCES_OPTIONS],
    useFactory: (db: Database, o: DatasourcesModuleOptions) => new JobQueue(db, o.jobs),
  },
  {
    provide: JobWorker,
    inject: [JobQueue, DATASOURCES_OPTIONS],
    useFactory: (q: JobQueue, o: DatasourcesModuleOptions) =>
      new JobWorker(q, { ...o.worker, logger: o.logger ?? nestLogger }),
  },
  {
    provide: ExtractionService,
    inject: [DATASOURCES_OPTIONS],
    useFactory: (o: DatasourcesModuleOptions) => new ExtractionService(o.extraction),
  },
  {
    provide: FilesService,
    inject: [DATABASE, BLOB_STORE, JobQueue, JobWorker, DATASOURCES_OPTIONS],
    useFactory: (
      db: Database,
      blobs: BlobStore,
      q: JobQueue,
      w: JobWorker,
      o: DatasourcesModuleOptions,
    ) => new FilesService(db, blobs, q, { ...o.files, onQueued: () => w.wake() }),
  },
  {
    provide: SsrfGuard,
    inject: [DATASOURCES_OPTIONS],
    useFactory: (o: DatasourcesModuleOptions) => new SsrfGuard(o.ssrf),
  },
  {
    provide: ExternalSourceService,
    inject: [DATABASE, SsrfGuard, DATASOURCES_OPTIONS],
    useFactory: (db: Database, guard: SsrfGuard, o: DatasourcesModuleOptions) =>
      new ExternalSourceService(db, { ...o.external, guard }),
  },
  DatasourcesLifecycle,
];

const exported = [
  BLOB_STORE,
  JobQueue,
  JobWorker,
  ExtractionService,
  FilesService,
  SsrfGuard,
  ExternalSourceService,
];

/**
 * Files, blobs, extraction, the durable job queue and its worker, external HTTP
 * sources. Global, so the RAG module (which registers the ingestion handler)
 * and the gateway's controllers inject these without importing it again.
 * Needs DATABASE (StorageModule) with `datasourceMigrations` applied.
 */
@Module({})
export class DatasourcesModule {
  static forRoot(options: DatasourcesModuleOptions): DynamicModule {
    return {
      module: DatasourcesModule,
      global: true,
      providers: [{ provide: DATASOURCES_OPTIONS, useValue: options }, ...providers],
      exports: exported,
    };
  }

  static forRootAsync(options: DatasourcesModuleAsyncOptions): DynamicModule {
    return {
      module: DatasourcesModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        {
          provide: DATASOURCES_OPTIONS,
          inject: options.inject ?? [],
          useFactory: options.useFactory,
        },
        ...providers,
      ],
      exports: exported,
    };
  }
}
