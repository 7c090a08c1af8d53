import { defaultDirective, parseDirective } from './directive.parser';

describe('parseDirective', () => {
  it('returns the defaults when the message has no #sim line', () => {
    expect(parseDirective('just a question')).toEqual(defaultDirective());
    expect(defaultDirective()).toMatchObject({ ttftMs: 0, tokens: 12, tps: 0 });
    expect(defaultDirective().fail).toBeUndefined();
  });

  it('reads every key', () => {
    const d = parseDirective(
      'question\n#sim ttft=250 tokens=40 tps=12.5 fail=drop after=3 tool=lookup args={"q":"a b","n":[1,2]} loop=1 cached=7 reasoning=9 text=ok echo=1 files=a.csv,chart.png filebytes=2048 code=0',
    );
    expect(d).toEqual({
      ttftMs: 250,
      tokens: 40,
      tps: 12.5,
      fail: 'drop',
      after: 3,
      tool: 'lookup',
      args: '{"q":"a b","n":[1,2]}',
      loop: true,
      cached: 7,
      reasoning: 9,
      text: 'ok',
      echo: true,
      files: ['a.csv', 'chart.png'],
      fileBytes: 2048,
      code: false,
      scriptedText: true,
    });
  });

  it('marks an answer scripted by tokens, text or echo (they win over a JSON format)', () => {
    expect(parseDirective('#sim ttft=5').scriptedText).toBe(false);
    expect(parseDirective('#sim tokens=x').scriptedText).toBe(false);
    expect(parseDirective('#sim tokens=3').scriptedText).toBe(true);
    expect(parseDirective('#sim text=yes').scriptedText).toBe(true);
    expect(parseDirective('#sim echo=0').scriptedText).toBe(true);
  });

  it('parses numeric failures', () => {
    expect(parseDirective('#sim fail=429').fail).toBe(429);
    expect(parseDirective('#sim fail=500 after=5')).toMatchObject({ fail: 500, after: 5 });
    expect(parseDirective('#sim fail=hang').fail).toBe('hang');
  });

  it('ignores unknown keys and falls back to defaults on bad values', () => {
    const d = parseDirective(
      '#sim colour=blue tokens=-3 ttft=soon tps=fast fail=404 after=x args={broken tool=has space',
    );
    expect(d).toEqual({ ...defaultDirective(), tool: 'has' });
  });

  it('keeps valid, distinct file names in order, at most 10, and skips the rest', () => {
    expect(defaultDirective()).toMatchObject({ files: [], code: true });
    expect(defaultDirective().fileBytes).toBeUndefined();
    expect(parseDirective('#sim files=b.png,a.csv,b.png').files).toEqual(['b.png', 'a.csv']);
    expect(parseDirective('#sim files=../x,ok.txt,..,.,a/b,,' + 'n'.repeat(101)).files).toEqual([
      'ok.txt',
    ]);
    expect(parseDirective('#sim files=.env,data_1-v2.json').files).toEqual([
      '.env',
      'data_1-v2.json',
    ]);
    const many = Array.from({ length: 12 }, (_, i) => `f${i}.txt`);
    expect(parseDirective(`#sim files=${many.join(',')}`).files).toEqual(many.slice(0, 10));
    expect(parseDirective('#sim files=').files).toEqual([]);
  });

  it('bounds filebytes to 0..64 MiB and reads code as a flag', () => {
    expect(parseDirective('#sim filebytes=0').fileBytes).toBe(0);
    expect(parseDirective(`#sim filebytes=${64 * 1024 * 1024}`).fileBytes).toBe(64 * 1024 * 1024);
    expect(parseDirective(`#sim filebytes=${64 * 1024 * 1024 + 1}`).fileBytes).toBeUndefined();
    expect(parseDirective('#sim filebytes=-1 code=maybe')).toEqual(defaultDirective());
    expect(parseDirective('#sim code=false').code).toBe(false);
    expect(parseDirective('#sim code=0 code=1').code).toBe(true);
  });

  it('uses the last #sim line and requires it to start a line', () => {
    expect(parseDirective('#sim tokens=1\n  #sim tokens=2  ').tokens).toBe(2);
    expect(parseDirective('see #sim tokens=3').tokens).toBe(12);
    expect(parseDirective('#simulate tokens=3').tokens).toBe(12);
  });
});
