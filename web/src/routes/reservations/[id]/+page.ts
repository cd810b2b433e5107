import { getReservation } from '$lib/api/requests';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ params }) => ({ id: params.id, reservation: getReservation(params.id) });
