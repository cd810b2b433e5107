import { getEvent } from '$lib/api/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ params }) => ({ id: params.event, event: getEvent(params.event) });
