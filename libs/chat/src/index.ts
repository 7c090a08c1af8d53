export type {
  ChatParams,
  ChatRunInput,
  PipelineEvent,
  RunStatus,
  RunSummary,
  StopCode,
} from './chat-run.types';
export { UsageRecorder } from './usage-recorder.service';
export { RunChatUseCase } from './run-chat.usecase';
