import { api, run } from '$lib/api/client';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ url }) => ({
  next: url.searchParams.get('next'),
  signedOut: url.searchParams.has('signed_out'),
  providers: run(api.GET('/api/auth/providers')),
});
