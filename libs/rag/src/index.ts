export { createRagMigrations } from './index/rag.migrations';
export { ChunkIndexRepository } from './index/chunk-index.repository';
export { EMBEDDER, LlmEmbedder } from './embedding/embedder.port';
export type { Embedder } from './embedding/embedder.port';
export { RetrievalService } from './retrieval/retrieval.service';
export { IngestionPipeline } from './ingestion/ingestion.pipeline';
export { DataSourceResolver } from './context/datasource-resolver';
export { ContextBuilder, toSourcesState } from './context/context-builder';
export { RagModule } from './rag.module';
