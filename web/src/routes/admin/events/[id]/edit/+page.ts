import { getEvent } from '$lib/api/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ params }) => ({ id: params.id, event: getEvent(params.id) });
