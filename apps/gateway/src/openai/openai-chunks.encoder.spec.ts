import fc from 'fast-check';
import { OpenAiChunksEncoder } from './openai-chunks.encoder';

/** The chunk object OpenAI streams for a text delta (the wire the encoder must match). */
function expectedTextChunk(
  id: string,
  model: string,
  created: number,
  text: string,
  role: boolean,
) {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        delta: role ? { role: 'assistant', content: text } : { content: text },
        logprobs: null,
        finish_reason: null,
      },
    ],
  };
}

describe('OpenAiChunksEncoder', () => {
  it('encodes text deltas exactly as the chunk objects, whatever the text, id and model hold', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 5 }),
        (id, model, texts) => {
          const enc = new OpenAiChunksEncoder(id, model, false);
          texts.forEach((text, i) => {
            const [frame] = enc.encode({ type: 'text', text });
            const parsed = JSON.parse(frame) as { created: number };
            expect(parsed).toEqual(expectedTextChunk(id, model, parsed.created, text, i === 0));
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps one created time for the whole stream', () => {
    const enc = new OpenAiChunksEncoder('chatcmpl-1', 'm', false);
    const created = ['a', 'b', 'c'].map(
      (text) => (JSON.parse(enc.encode({ type: 'text', text })[0]) as { created: number }).created,
    );
    expect(new Set(created).size).toBe(1);
  });
});
