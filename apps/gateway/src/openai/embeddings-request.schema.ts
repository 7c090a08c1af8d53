import { z } from 'zod';

/** OpenAI's limit on the number of inputs of one embeddings request. */
export const MAX_EMBEDDING_INPUTS = 2048;

const required = (what: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? 'is required' : `must be ${what}`;

/**
 * `POST /v1/embeddings` as OpenAI defines it, restricted to text inputs: token
 * arrays (number[] / number[][]) are OpenAI-tokenizer ids that no other provider
 * can read, so they are refused with a 400 rather than embedded wrongly.
 * Unknown fields are ignored, as on `/v1/chat/completions`.
 *
 * The shape is checked first and the sizes after, so an empty string or a
 * 2049th input gets its own message and path instead of a generic union error.
 */
export const embeddingsBodySchema = z.object({
  model: z.string({ error: required('a string') }).min(1, 'must not be empty'),
  input: z
    .union([z.string(), z.array(z.string())], {
      error: required('a string or an array of strings (token arrays are not supported)'),
    })
    .superRefine((input, ctx) => {
      if (typeof input === 'string') {
        if (input.length === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
        return;
      }
      if (input.length === 0)
        ctx.addIssue({ code: 'custom', message: 'must contain at least one string' });
      if (input.length > MAX_EMBEDDING_INPUTS)
        ctx.addIssue({
          code: 'custom',
          message: `must contain at most ${MAX_EMBEDDING_INPUTS} strings (got ${input.length})`,
        });
      input.forEach((s, i) => {
        if (s.length === 0)
          ctx.addIssue({ code: 'custom', path: [i], message: 'must not be empty' });
      });
    }),
  dimensions: z.number().int().min(1).max(16_384).optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
  user: z.string().max(256).optional(),
});

export type EmbeddingsBody = z.infer<typeof embeddingsBodySchema>;

/** The inputs as a list, in request order. */
export function embeddingInputs(body: EmbeddingsBody): string[] {
  return typeof body.input === 'string' ? [body.input] : body.input;
}
