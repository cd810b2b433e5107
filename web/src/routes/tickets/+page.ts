import { listTickets } from '$lib/api/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = () => ({ tickets: listTickets() });
