import { listAllEvents } from '$lib/api/requests';
import type { PageLoad } from './$types';

// The filters live in the URL and are applied in the page (the API lists events by status
// only), so changing a filter does not read the catalogue again.
export const load: PageLoad = () => ({ events: listAllEvents() });
