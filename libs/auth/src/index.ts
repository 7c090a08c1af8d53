export * from './principal';
export * from './bootstrap-admin-key';
export * from './authenticator';
export * from './identity';
