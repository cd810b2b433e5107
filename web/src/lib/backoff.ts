// Reconnect delays: exponential with full jitter, capped.

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
}

/** The wait before reconnect attempt `attempt` (0-based): random in [base·2^n / 2, base·2^n], capped. */
export function backoffDelay(attempt: number, random: number = Math.random(), { baseMs = 500, maxMs = 30_000 }: BackoffOptions = {}): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
