import { listEvents } from '$lib/api/requests';
import { catalogueQuery, filtersFromSearch } from '$lib/catalogue';
import { serverClock } from '$lib/time';
import type { PageLoad } from './$types';

// The filters live in the URL; the server filters and pages (upcoming only: from = now).
export const load: PageLoad = ({ url }) => {
  const filters = filtersFromSearch(url.searchParams);
  const query = () => listEvents(catalogueQuery(filters, serverClock.now()));
  return { filters, events: query(), query };
};
