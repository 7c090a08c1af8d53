import { pythonProgram, runCode } from './code-interpreter.run';
import { ContainerStore } from './container.store';
import { defaultDirective } from './directive.parser';

describe('pythonProgram', () => {
  it('reads each input by extension and prints its size before writing the outputs', () => {
    expect(pythonProgram(['out.csv'], ['sales.csv', 'Q3.XLSX', 'report.pdf', 'data.json'])).toBe(
      [
        'import os',
        'import pandas as pd',
        '',
        'df_0 = pd.read_csv("/mnt/data/sales.csv")',
        'print("read %s (%d bytes)" % ("/mnt/data/sales.csv", os.path.getsize("/mnt/data/sales.csv")))',
        'df_1 = pd.read_excel("/mnt/data/Q3.XLSX")',
        'print("read %s (%d bytes)" % ("/mnt/data/Q3.XLSX", os.path.getsize("/mnt/data/Q3.XLSX")))',
        'data_2 = open("/mnt/data/report.pdf", "rb").read()',
        'print("read %s (%d bytes)" % ("/mnt/data/report.pdf", os.path.getsize("/mnt/data/report.pdf")))',
        'df_3 = pd.read_json("/mnt/data/data.json")',
        'print("read %s (%d bytes)" % ("/mnt/data/data.json", os.path.getsize("/mnt/data/data.json")))',
        '',
        'df = pd.DataFrame({"period": range(1, 13), "revenue": [1000 + 75 * i for i in range(12)]})',
        'df.to_csv("/mnt/data/out.csv", index=False)',
        'print("saved", "/mnt/data/out.csv")',
        '',
      ].join('\n'),
    );
  });

  it('quotes names that need it as Python string literals, $ patterns included', () => {
    const code = pythonProgram([], ['a "b" \\ $&.tsv', 'Übersicht.constructor']);
    expect(code).toContain('df_0 = pd.read_csv("/mnt/data/a \\"b\\" \\\\ $&.tsv", sep="\\t")');
    expect(code).toContain('data_1 = open("/mnt/data/Übersicht.constructor", "rb").read()');
  });

  it('is unchanged without inputs', () => {
    expect(pythonProgram(['a.csv'])).toBe(pythonProgram(['a.csv'], []));
    expect(pythonProgram(['a.csv'])).not.toContain('import os');
  });
});

describe('runCode with uploaded inputs', () => {
  it('puts the inputs first as user files and logs one read line each before the saves', () => {
    const store = new ContainerStore();
    const directive = { ...defaultDirective(), files: ['chart.png'] };
    const run = runCode(store, undefined, directive, [
      { filename: 'sales.csv', content: Buffer.from('a,b\n1,2\n') },
      { filename: 'raw.bin', content: Buffer.alloc(1000) },
    ]);
    expect(run.logs).toBe(
      'read /mnt/data/sales.csv (8 bytes)\n' +
        'read /mnt/data/raw.bin (1000 bytes)\n' +
        'saved /mnt/data/chart.png\n',
    );
    expect(run.inputs.map((f) => [f.name, f.source, f.bytes])).toEqual([
      ['sales.csv', 'user', 8],
      ['raw.bin', 'user', 1000],
    ]);
    expect(run.files.map((f) => [f.name, f.source])).toEqual([['chart.png', 'assistant']]);
    expect(store.get(run.containerId)?.files.map((f) => f.name)).toEqual([
      'sales.csv',
      'raw.bin',
      'chart.png',
    ]);
  });
});
