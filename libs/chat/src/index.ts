export * from './chat-run.types';
export * from './run-accounting';
export * from './usage-recorder.service';
export * from './run-chat.usecase';
