import type { Admission } from '@switchboard/billing';
import type { AppError } from '@switchboard/common';
import type { CallAttempt } from '@switchboard/llm';
import type { ChatRunInput, PipelineEvent, RunControl, StopCode } from './chat-run.types';

/**
 * Everything one chat run knows about itself, in one place: the steps of the
 * use-case read and write it instead of sharing closure variables.
 */
export class ChatRunState {
  /** every upstream call of the request, in order */
  readonly attempts: CallAttempt[] = [];
  readonly abort = new AbortController();
  /** the external stop (kill switch, drain), once it came */
  stopCode?: StopCode;
  failed?: AppError;
  admission?: Admission;
  /** the run was torn down (answered, failed or the client left) */
  disposed = false;
  /** the run answered in full: nothing is left to abort */
  ended = false;
  /** the account billed, once admission chose it */
  accountId: string | undefined;
  firstTokenSeen = false;
  /** where the first upstream token goes while the answer streams */
  sink?: (ev: PipelineEvent) => void;

  constructor(
    readonly input: ChatRunInput,
    readonly control: RunControl,
  ) {
    this.accountId = input.accountId;
  }
}
