import { listEvents } from '$lib/api/requests';
import { serverClock } from '$lib/time';
import type { PageLoad } from './$types';

// Events whose doors open soon: from twelve hours ago on, soonest first.
export const load: PageLoad = () => {
  const query = () => listEvents({ from: new Date(serverClock.now() - 12 * 3_600_000).toISOString(), per_page: 50 });
  return { events: query(), query };
};
