import fc from 'fast-check';
import { SseParser, type SseMessage } from './sse-parser';

const parseAll = (chunks: string[]): SseMessage[] => {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
};

describe('SseParser', () => {
  const stream =
    'data: {"s":"answer","d":"Hel"}\n\n: keep-alive\n\ndata: {"s":"answer","d":"lo"}\n\n' +
    'data: {"s":"result","type":"end"}\n\n';

  it('yields data events and heartbeat comments in order', () => {
    expect(parseAll([stream])).toEqual([
      { kind: 'data', data: '{"s":"answer","d":"Hel"}' },
      { kind: 'comment', text: 'keep-alive' },
      { kind: 'data', data: '{"s":"answer","d":"lo"}' },
      { kind: 'data', data: '{"s":"result","type":"end"}' },
    ]);
  });

  it('gives the same events however the bytes are split (property)', () => {
    const whole = parseAll([stream]);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }),
        (cuts) => {
          const sorted = [...cuts].sort((a, b) => a - b);
          const chunks: string[] = [];
          let from = 0;
          for (const c of sorted) {
            chunks.push(stream.slice(from, c));
            from = c;
          }
          chunks.push(stream.slice(from));
          expect(parseAll(chunks)).toEqual(whole);
        },
      ),
    );
  });

  it('accepts CRLF and CR line ends, also when a CRLF is split between chunks', () => {
    expect(parseAll(['data: a\r', '\n\r', '\ndata: b\r\r'])).toEqual([
      { kind: 'data', data: 'a' },
      { kind: 'data', data: 'b' },
    ]);
  });

  it('joins multi-line data and keeps event and id fields', () => {
    expect(parseAll(['event: x\nid: 7\ndata: one\ndata:two\n\n'])).toEqual([
      { kind: 'data', data: 'one\ntwo', event: 'x', id: '7' },
    ]);
  });

  it('holds an incomplete event back until its blank line arrives', () => {
    const p = new SseParser();
    expect(p.push('data: {"s":"ans')).toEqual([]);
    expect(p.pending).toBe(true);
    expect(p.push('wer","d":"x"}\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ kind: 'data', data: '{"s":"answer","d":"x"}' }]);
    expect(p.pending).toBe(false);
  });

  it('ignores blank lines without data and unknown fields', () => {
    expect(parseAll(['\n\nretry: 10\nfoo: bar\n\n'])).toEqual([]);
  });
});
