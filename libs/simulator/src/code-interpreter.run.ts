import { defaultFileSize, fileKind } from './container-file.content';
import type { ContainerFile, ContainerStore, SimContainer } from './container.store';
import type { SimDirective } from './directive.parser';

/** What one simulated code_interpreter call did. */
export interface CodeRun {
  containerId: string;
  /** The Python program, deterministic for the list of files. */
  code: string;
  /** What the program printed. */
  logs: string;
  /** Files it wrote to /mnt/data, in the directive's order. */
  files: ContainerFile[];
}

export const MOUNT_DIR = '/mnt/data';

/**
 * Runs the simulated program: writes the directive's files into `container`
 * (or a new container) and returns the code and logs a real run would show.
 */
export function runCode(
  store: ContainerStore,
  container: SimContainer | undefined,
  directive: SimDirective,
): CodeRun {
  const target = container ?? store.create();
  const files = directive.files.map((name) => {
    const bytes = directive.fileBytes ?? defaultFileSize(name);
    return store.addFile(target, name, bytes, directive.fileBytes);
  });
  return {
    containerId: target.id,
    code: pythonProgram(directive.files),
    logs: runLogs(files),
    files,
  };
}

/** A short pandas/matplotlib program that writes each named file. */
export function pythonProgram(names: readonly string[]): string {
  const kinds = new Set(names.map(fileKind));
  const lines = ['import pandas as pd'];
  if (kinds.has('png'))
    lines.push('import matplotlib', 'matplotlib.use("Agg")', 'import matplotlib.pyplot as plt');
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
