import type { Principal } from '@switchboard/auth';
import type { ToolDefinition } from '@switchboard/llm';
import type { DocumentAccess } from '../assistant.port';

/** What a tool may use while it runs. */
export interface ToolContext {
  principal: Principal;
  docs: DocumentAccess;
  /** aborted when the request is cancelled, the tool times out or the agent's deadline passes */
  signal: AbortSignal;
}

/**
 * A tool the agent may offer the model. `parameters` is the JSON schema the
 * arguments are validated against before `run`; whatever `run` returns is
 * JSON-encoded (strings are sent as they are) and fed back to the model.
 */
export interface AgentTool {
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<unknown>;
}

export function toolDefinition(t: AgentTool): ToolDefinition {
  return { name: t.name, description: t.description, parameters: t.parameters };
}
