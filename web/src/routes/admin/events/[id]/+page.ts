import { getEvent } from '$lib/api/requests';
import { getEventSales } from '$lib/admin/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ params }) => ({ id: params.id, event: getEvent(params.id), sales: getEventSales(params.id) });
