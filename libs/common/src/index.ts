export * from './error-catalogue';
export * from './request-context';
export * from './native-require';
