export * from './responses.migrations';
export * from './stored-response.types';
export * from './stored-response.repository';
export * from './stored-responses.service';
