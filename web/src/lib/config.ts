// The server's public settings (GET /api/config), read once per visit.
import { api, run, type Schemas } from './api/client';

export type PublicConfig = Schemas['PublicConfig'];

let cached: Promise<PublicConfig> | null = null;

export function getConfig(): Promise<PublicConfig> {
  if (!cached) {
    cached = run(api.GET('/api/config'));
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}

/** Test cards are shown only while the built-in payment simulator takes the payments. */
export function showsTestCards(config: Pick<PublicConfig, 'payment_gateway'> | null | undefined): boolean {
  return config?.payment_gateway === 'simulator';
}
