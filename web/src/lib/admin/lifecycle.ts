// An event's lifecycle as the organiser drives it: which buttons a status offers, and what each
// one does, said before it is done.
import { formatMoney } from '../money';

export type Action = 'publish' | 'open' | 'close' | 'cancel';

export const STATUS_WORDS: Record<string, string> = {
  draft: 'Draft',
  published: 'Published',
  sales_open: 'On sale',
  sales_closed: 'Sales closed',
  cancelled: 'Cancelled',
  completed: 'Completed',
};

export function statusWords(status: string): string {
  return STATUS_WORDS[status] ?? status.replace(/_/g, ' ');
}

const DAY = 24 * 60 * 60 * 1000;

/** The actions an event in `status` allows, in the order the buttons show. */
export function actionsFor(status: string, startsAt: string, nowMs: number): Action[] {
  const started = Date.parse(startsAt) <= nowMs;
  const cancellable = Date.parse(startsAt) - nowMs > DAY;
  const actions: Action[] = [];
  if (status === 'draft') actions.push('publish');
  if ((status === 'published' || status === 'sales_closed') && !started) actions.push('open');
  if (status === 'sales_open') actions.push('close');
  if (['draft', 'published', 'sales_open', 'sales_closed'].includes(status) && cancellable) actions.push('cancel');
  return actions;
}

export const ACTION_LABELS: Record<Action, string> = {
  publish: 'Publish',
  open: 'Open sales',
  close: 'Close sales',
  cancel: 'Cancel event',
};

/** What the API path of an action ends with. */
export const ACTION_PATHS = {
  publish: '/api/events/{id}/publish',
  open: '/api/events/{id}/sales/open',
  close: '/api/events/{id}/sales/close',
} as const;

export interface Consequence {
  title: string;
  confirm: string;
  /** What happens, in a sentence or two. */
  text: string;
}

/** What an action does, for its confirmation dialog. `refund` is what cancelling would refund. */
export function consequence(action: Action, refund?: { orders: number; cents: number } | null): Consequence {
  switch (action) {
    case 'publish':
      return {
        title: 'Publish this event?',
        confirm: 'Publish',
        text: 'Buyers can see it in the catalogue. Tickets are not on sale until you open sales. After publishing, the sections and the date can no longer be edited.',
      };
    case 'open':
      return {
        title: 'Open ticket sales?',
        confirm: 'Open sales',
        text: 'Buyers can hold seats and pay for them from now on, until you close sales.',
      };
    case 'close':
      return {
        title: 'Close ticket sales?',
        confirm: 'Close sales',
        text: 'No one can buy tickets any more. Tickets already sold stay valid, and holds still running can be paid for. You can open sales again later.',
      };
    case 'cancel': {
      const refunds = refund
        ? refund.orders === 0
          ? 'No order has been paid, so there is nothing to refund.'
          : `Every paid order is refunded in full: ${refund.orders} order${refund.orders === 1 ? '' : 's'}, ${formatMoney(refund.cents)}.`
        : 'Every paid order is refunded in full.';
      return {
        title: 'Cancel this event?',
        confirm: 'Cancel the event',
        text: `${refunds} Buyers are told by email, their tickets stop working, and the event cannot be reopened.`,
      };
    }
  }
}
