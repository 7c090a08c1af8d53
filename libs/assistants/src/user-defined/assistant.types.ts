/** Tools a user-defined assistant may enable. */
export const ASSISTANT_TOOLS = [
  'search_documents',
  'read_document',
  'list_documents',
  'fetch_url',
  'code_interpreter',
] as const;
export type AssistantToolName = (typeof ASSISTANT_TOOLS)[number];

export interface AssistantRecord {
  id: string;
  ownerUserId: string;
  name: string;
  instructions: string;
  /** null = the model the request asks for */
  model: string | null;
  fileIds: string[];
  tags: string[];
  tools: AssistantToolName[];
  sharedAccountIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export type AssistantInput = Pick<
  AssistantRecord,
  'name' | 'instructions' | 'model' | 'fileIds' | 'tags' | 'tools' | 'sharedAccountIds'
>;
