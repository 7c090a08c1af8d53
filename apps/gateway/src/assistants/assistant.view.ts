import type { AssistantRecord } from '@switchboard/assistants';

export function assistantView(a: AssistantRecord) {
  return {
    id: a.id,
    ownerUserId: a.ownerUserId,
    name: a.name,
    instructions: a.instructions,
    model: a.model,
    fileIds: a.fileIds,
    tags: a.tags,
    tools: a.tools,
    sharedAccountIds: a.sharedAccountIds,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}
