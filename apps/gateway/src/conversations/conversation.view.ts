import type { ConversationRecord, MessageRecord } from '@switchboard/conversations';

export function conversationView(c: ConversationRecord) {
  return {
    id: c.id,
    title: c.title,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export function messageView(m: MessageRecord) {
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    status: m.status,
    requestId: m.requestId,
    model: m.model,
    sources: m.sources,
    generatedFiles: m.generatedFiles,
    usage: m.usage,
    error: m.error,
    createdAt: m.createdAt.toISOString(),
  };
}
