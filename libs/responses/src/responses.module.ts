import {
  type DynamicModule,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DATABASE, type Database } from '@switchboard/storage';
import { StoredResponseRepository } from './stored-response.repository';
import { StoredResponses, type StoredResponsesOptions } from './stored-responses.service';

export const RESPONSES_OPTIONS = Symbol('RESPONSES_OPTIONS');

/**
 * Purges expired responses while the app runs; at shutdown, once the HTTP
 * server has closed, waits for the writes of the last answers before storage
 * closes the database.
 */
@Injectable()
export class ResponsesLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(private readonly responses: StoredResponses) {}

  onModuleInit(): void {
    this.responses.startPurging();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.responses.close();
  }
}

/**
 * Stored responses of the Responses API. Needs DATABASE (StorageModule) with
 * `responseMigrations` applied.
 */
@Module({})
export class ResponsesModule {
  static forRoot(options: StoredResponsesOptions): DynamicModule {
    return {
      module: ResponsesModule,
      providers: [
        { provide: RESPONSES_OPTIONS, useValue: options },
        {
          provide: StoredResponses,
          inject: [DATABASE, RESPONSES_OPTIONS],
          useFactory: (db: Database, o: StoredResponsesOptions) =>
            new StoredResponses(new StoredResponseRepository(db), o),
        },
        ResponsesLifecycle,
      ],
      exports: [StoredResponses],
    };
  }
}
