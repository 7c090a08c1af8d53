import { EmfAccumulator, emfLine } from './emf-publisher';

describe('EMF', () => {
  it('emits a CloudWatch EMF document with the Switchboard namespace and every metric declared', () => {
    const acc = new EmfAccumulator();
    acc.request();
    acc.request();
    acc.error();
    acc.tokensOut(42);
    acc.ttft(12.4);
    const doc = JSON.parse(emfLine('switchboard-dev', acc.drain(3), 1000)) as {
      _aws: {
        CloudWatchMetrics: Array<{
          Namespace: string;
          Dimensions: string[][];
          Metrics: Array<{ Name: string }>;
        }>;
      };
      TimeToFirstTokenMs: number[];
    };
    expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('Switchboard');
    expect(doc._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Service']]);
    const names = doc._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name);
    for (const n of names) expect(doc).toHaveProperty(n);
    expect(doc).toMatchObject({
      Service: 'switchboard-dev',
      ActiveStreams: 3,
      Requests: 2,
      Errors: 1,
      TokensOut: 42,
    });
    expect(doc.TimeToFirstTokenMs).toEqual([12]);
  });

  it('resets counters after each drain and caps the TTFT sample at 100 values', () => {
    const acc = new EmfAccumulator();
    for (let i = 0; i < 150; i++) acc.ttft(i);
    acc.request();
    expect(acc.drain(0).TimeToFirstTokenMs).toHaveLength(100);
    expect(acc.drain(0)).toMatchObject({ Requests: 0, TimeToFirstTokenMs: [] });
  });
});
