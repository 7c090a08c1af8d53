export declare const IMAGE_TAG_KEY: string;
export interface HistoryEntry {
  version?: number;
  kind?: string;
  result?: string;
  config?: Record<string, string | { value?: string; secret?: boolean }>;
}
export declare function imageTagOf(update: HistoryEntry, key?: string): string | undefined;
export declare function previousImageTag(
  history: HistoryEntry[],
  current: string | undefined,
): string | undefined;
