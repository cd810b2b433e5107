import { listReservations } from '$lib/api/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = () => ({ reservations: listReservations() });
