import { defaultFileSize, fileKind } from './container-file.content';
import type { ContainerFile, ContainerStore, SimContainer } from './container.store';
import type { SimDirective } from './directive.parser';

/** An uploaded file a run reads (`file_ids` of the container). */
export interface CodeInput {
  filename: string;
  content: Buffer;
}

/** What one simulated code_interpreter call did. */
export interface CodeRun {
  containerId: string;
  /** The Python program, deterministic for the input and output file names. */
  code: string;
  /** What the program printed. */
  logs: string;
  /** The uploaded files put into the container before the run, in request order. */
  inputs: ContainerFile[];
  /** Files it wrote to /mnt/data, in the directive's order. */
  files: ContainerFile[];
}

export const MOUNT_DIR = '/mnt/data';

/**
 * Runs the simulated program: puts the uploaded `inputs` into `container` (or a
 * new container) as user files, writes the directive's files, and returns the
 * code and logs a real run would show.
 */
export function runCode(
  store: ContainerStore,
  container: SimContainer | undefined,
  directive: SimDirective,
  inputs: readonly CodeInput[] = [],
): CodeRun {
  const target = container ?? store.create();
  const given = inputs.map((f) => store.addUserFile(target, f.filename, f.content));
  const files = directive.files.map((name) => {
    const bytes = directive.fileBytes ?? defaultFileSize(name);
    return store.addFile(target, name, bytes, directive.fileBytes);
  });
  return {
    containerId: target.id,
    code: pythonProgram(
      directive.files,
      inputs.map((f) => f.filename),
    ),
    logs: readLogs(given) + runLogs(files),
    inputs: given,
    files,
  };
}

/**
 * A short pandas/matplotlib program that first reads each input file (by
 * extension: `pd.read_csv`, `pd.read_excel`, … or the raw bytes), printing
 * its size, then writes each named output file.
 */
export function pythonProgram(names: readonly string[], inputs: readonly string[] = []): string {
  const kinds = new Set(names.map(fileKind));
  const lines: string[] = [];
  if (inputs.length > 0) lines.push('import os');
  lines.push('import pandas as pd');
  if (kinds.has('png'))
    lines.push('import matplotlib', 'matplotlib.use("Agg")', 'import matplotlib.pyplot as plt');
  if (inputs.length > 0) lines.push('');
  inputs.forEach((name, i) => {
    // JSON string literals are valid Python string literals.
    const path = JSON.stringify(`${MOUNT_DIR}/${name}`);
    lines.push(
      readStatement(name, i, path),
      `print("read %s (%d bytes)" % (${path}, os.path.getsize(${path})))`,
    );
  });
  lines.push(
    '',
    'df = pd.DataFrame({"period": range(1, 13), "revenue": [1000 + 75 * i for i in range(12)]})',
  );
  if (names.length === 0) lines.push('print(df["revenue"].describe())');
  for (const name of names) {
    const path = JSON.stringify(`${MOUNT_DIR}/${name}`);
    switch (fileKind(name)) {
      case 'csv':
        lines.push(`df.to_csv(${path}, index=False)`);
        break;
      case 'json':
        lines.push(`df.to_json(${path}, orient="records")`);
        break;
      case 'png':
        lines.push(
          'fig, ax = plt.subplots()',
          'ax.bar(df["period"], df["revenue"])',
          `fig.savefig(${path})`,
        );
        break;
      case 'text':
        lines.push(`with open(${path}, "w") as f:`, '    f.write(df.to_string())');
        break;
    }
    lines.push(`print("saved", ${path})`);
  }
  return `${lines.join('\n')}\n`;
}

/** Readers by extension (lower case); anything else is read as raw bytes. */
const READERS: ReadonlyMap<string, string> = new Map([
  ['csv', 'pd.read_csv(%p)'],
  ['tsv', 'pd.read_csv(%p, sep="\\t")'],
  ['xlsx', 'pd.read_excel(%p)'],
  ['xls', 'pd.read_excel(%p)'],
  ['json', 'pd.read_json(%p)'],
  ['parquet', 'pd.read_parquet(%p)'],
]);

function readStatement(name: string, i: number, path: string): string {
  const dot = name.lastIndexOf('.');
  const reader = READERS.get(dot < 0 ? '' : name.slice(dot + 1).toLowerCase());
  return reader === undefined
    ? `data_${i} = open(${path}, "rb").read()`
    : `df_${i} = ${reader.replace('%p', () => path)}`;
}

/** One `read <path> (<n> bytes)` line per input file, as the program prints them. */
function readLogs(inputs: readonly ContainerFile[]): string {
  return inputs.map((f) => `read ${MOUNT_DIR}/${f.name} (${f.bytes} bytes)\n`).join('');
}

function runLogs(files: readonly ContainerFile[]): string {
  if (files.length === 0) {
    return [
      'count      12.000000',
      'mean     1412.500000',
      'std       270.416346',
      'min      1000.000000',
      '25%      1206.250000',
      '50%      1412.500000',
      '75%      1618.750000',
      'max      1825.000000',
      'Name: revenue, dtype: float64',
      '',
    ].join('\n');
  }
  return files.map((f) => `saved ${MOUNT_DIR}/${f.name}\n`).join('');
}
