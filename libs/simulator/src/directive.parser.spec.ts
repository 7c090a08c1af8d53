import { defaultDirective, parseDirective } from './directive.parser';

describe('parseDirective', () => {
  it('returns the defaults when the message has no #sim line', () => {
    expect(parseDirective('just a question')).toEqual(defaultDirective());
    expect(defaultDirective()).toMatchObject({ ttftMs: 0, tokens: 12, tps: 0 });
    expect(defaultDirective().fail).toBeUndefined();
  });

  it('reads every key', () => {
    const d = parseDirective(
      'question\n#sim ttft=250 tokens=40 tps=12.5 fail=drop after=3 tool=lookup args={"q":"a b","n":[1,2]} loop=1 cached=7 reasoning=9 text=ok echo=1',
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
    });
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

  it('uses the last #sim line and requires it to start a line', () => {
    expect(parseDirective('#sim tokens=1\n  #sim tokens=2  ').tokens).toBe(2);
    expect(parseDirective('see #sim tokens=3').tokens).toBe(12);
    expect(parseDirective('#simulate tokens=3').tokens).toBe(12);
  });
});
