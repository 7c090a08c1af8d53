export * from './error-catalogue';
export * from './request-context';
