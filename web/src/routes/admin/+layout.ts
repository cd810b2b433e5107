// The organiser console: admins everywhere under /admin; door staff on the door pages only;
// customers get the 403 page; signed-out visitors go to the sign-in page and come back.
import { error, redirect } from '@sveltejs/kit';
import { session } from '$lib/session.svelte';
import type { LayoutLoad } from './$types';

export const load: LayoutLoad = async ({ url }) => {
  await session.ensure();
  const user = session.user;
  const here = url.pathname + url.search;
  if (!user) {
    // The server could not tell who this is (unreachable): the layout says so with a retry.
    if (session.error) return { role: null, unreachable: true };
    redirect(307, `/signin?next=${encodeURIComponent(here)}`);
  }
  const door = url.pathname === '/admin/checkin' || url.pathname.startsWith('/admin/checkin/');
  if (user.role === 'admin' || (user.role === 'staff' && door)) return { role: user.role, unreachable: false };
  if (user.role === 'staff') {
    if (url.pathname === '/admin' || url.pathname === '/admin/') redirect(307, '/admin/checkin');
    error(403, 'Door staff can use the door check-in pages only.');
  }
  error(403, 'This part of the site is for event organisers only.');
};
