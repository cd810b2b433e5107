import { getPopularity, getSegments, getTimeSeries, getTopSellers } from '$lib/admin/requests';
import { daysParam, rangeFrom } from '$lib/admin/series';
import { serverClock } from '$lib/time';
import type { PageLoad } from './$types';

// The date range is in the URL (?from=&to=); the sales series follows it. The other three
// dashboards are all-time totals (their API has no date range).
export const load: PageLoad = ({ url }) => {
  const now = serverClock.now();
  const range = rangeFrom(url.searchParams, now);
  return {
    range,
    series: getTimeSeries(daysParam(range.from, now)),
    top: getTopSellers(50),
    segments: getSegments(),
    popularity: getPopularity(),
  };
};
