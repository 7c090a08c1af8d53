export * from './rate-limit.types';
export * from './limit-store.port';
export * from './memory-limit.store';
export * from './redis-limit.store';
export * from './rate-limit.headers';
export * from './rate-limit.service';
export * from './rate-limit.module';
export * from './lag-aware-deadline';
