import { getEvent } from '$lib/api/requests';
import { orderFiltersFrom, orderQuery } from '$lib/admin/orders';
import { listEventOrders } from '$lib/admin/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ params, url }) => {
  const filters = orderFiltersFrom(url.searchParams);
  const query = () => listEventOrders(params.id, orderQuery(filters));
  return { id: params.id, filters, event: getEvent(params.id), orders: query(), query };
};
