export * from './assistant.port';
