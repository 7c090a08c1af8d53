export * from './types';
export * from './sse-parser';
export * from './chat-frames';
export * from './chat-stream';
export * from './errors';
export * from './client';
