export * from './database.port';
