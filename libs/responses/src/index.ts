export { responseMigrations } from './responses.migrations';
export type { ResponseItem } from './stored-response.types';
export { StoredResponseRepository } from './stored-response.repository';
export { StoredResponses } from './stored-responses.service';
export { ResponsesModule } from './responses.module';
