import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  compilerOptions: {
    runes: true,
  },
  kit: {
    // A single-page app: no server-side rendering, every path falls back to index.html
    // (the Rust server serves ../static and does the fallback).
    adapter: adapter({ pages: '../static', assets: '../static', fallback: 'index.html', precompress: true, strict: true }),
    // Absolute asset URLs, so the fallback page works at any depth (/events/123/...).
    paths: { relative: false },
    // The server sends its own CSP with the hashes of index.html's inline scripts; the meta tag
    // SvelteKit writes is the same policy for the scripts, so both agree.
    csp: {
      mode: 'hash',
      directives: {
        'script-src': ['self'],
        'object-src': ['none'],
        'base-uri': ['self'],
      },
    },
  },
};

export default config;
