import type { StoreCheckInput, StoreCheckResult, Subject } from './rate-limit.types';

/**
 * Where rate-limit counters live. Implementations decide atomically: either
 * every limit of every subject admits the request and all of them are charged,
 * or nothing is recorded.
 */
export interface LimitStore {
  readonly backend: 'memory' | 'redis';

  check(input: StoreCheckInput): Promise<StoreCheckResult>;

  /**
   * Corrects a token charge by `delta` (actual - estimate). With `chargeId`
   * (the slotId of the check) the original charge is edited in place, keeping
   * its timestamp; without it, a positive delta is charged now and a negative
   * one is taken from the oldest charges in the window.
   */
  adjustTokens(subject: Subject, delta: number, windowMs: number, chargeId?: string): Promise<void>;

  /** frees the concurrency slot on every subject it holds; idempotent */
  release(slotId: string): Promise<void>;

  /** extends a live slot's lease; false when the slot is unknown or already expired */
  renew(slotId: string, leaseMs: number): Promise<boolean>;

  /**
   * Puts a running stream's slot back on `holders` with a fresh lease, without a
   * limit check: for a renewal that came after the lease lapsed (a stalled event
   * loop, a Redis blip), so the stream is counted again for the rest of its life.
   */
  retake(slotId: string, leaseMs: number, holders: readonly Subject[]): Promise<void>;
}

export const LIMIT_STORE = Symbol('LIMIT_STORE');

/** injectable time source (ms since epoch) */
export type Clock = () => number;
