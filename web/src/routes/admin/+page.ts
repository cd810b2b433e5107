import { listEvents } from '$lib/api/requests';
import { adminEventQuery, listFiltersFrom } from '$lib/admin/event-list';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ url }) => {
  const filters = listFiltersFrom(url.searchParams);
  const query = () => listEvents(adminEventQuery(filters));
  return { filters, events: query(), query };
};
