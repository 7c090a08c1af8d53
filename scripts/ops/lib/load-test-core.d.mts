export declare const LIMITS: { concurrency: number; requests: number; durationSeconds: number };

export interface LoadTestOptions {
  url: string;
  key: string;
  model: string;
  prompt: string;
  maxTokens: number;
  concurrency: number;
  requests?: number;
  durationSeconds: number;
  timeoutSeconds: number;
  allowRemote?: boolean;
}

export interface LoadTestSummary {
  url: string;
  concurrency: number;
  completed: number;
  ok: number;
  errors: number;
  errorRate: number;
  errorKinds: Record<string, number>;
  ttftMs: { p50: number | null; p95: number | null; p99: number | null };
  chunks: number;
  elapsedSeconds: number | null;
}

export declare function isLoopback(url: string): boolean;
export declare function percentile(sorted: number[], p: number): number | undefined;
export declare function normalizeOptions(o: LoadTestOptions): Required<LoadTestOptions>;
export declare function runLoadTest(o: LoadTestOptions): Promise<LoadTestSummary>;
