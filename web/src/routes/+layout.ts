// A single-page app: rendered in the browser only; index.html is the fallback for every path.
export const ssr = false;
export const prerender = false;
export const trailingSlash = 'never';
