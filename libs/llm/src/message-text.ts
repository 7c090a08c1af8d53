import type { ChatMessage } from './chat.types';

/** The text parts of a message, concatenated (images dropped). */
export function messageText(m: ChatMessage): string {
  return typeof m.content === 'string'
    ? m.content
    : m.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}
