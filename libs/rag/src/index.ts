export * from './chunking/chunker';
export * from './index/rag.migrations';
export * from './index/chunk-index.repository';
export * from './embedding/embedder.port';
export * from './retrieval/retrieval.service';
export * from './ingestion/ingestion.pipeline';
export * from './context/datasource-resolver';
export * from './context/context-builder';
