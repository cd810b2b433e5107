#!/usr/bin/env node
// What a buyer downloads on the first visit to each buyer page, gzipped: index.html, the entry
// scripts and their static imports, the root layout and the page's own chunks and stylesheets.
// Reads the Vite manifest of the last `npm run build`; fails above the budget.
//
//   npm run size            (after npm run build)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 120;
const here = dirname(fileURLToPath(import.meta.url));
const clientDir = resolve(here, '../.svelte-kit/output/client');
const staticDir = resolve(here, '../../static');
const manifestPath = join(clientDir, '.vite/manifest.json');
if (!existsSync(manifestPath)) {
  console.error('No build found: run `npm run build` first.');
  process.exit(1);
}
/** @type {Record<string, {file: string, imports?: string[], css?: string[], isEntry?: boolean, src?: string}>} */
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;

/** Every file a manifest entry loads before it runs: itself, its static imports, their CSS. */
function closure(key, files = new Set()) {
  const chunk = manifest[key];
  if (!chunk || files.has(chunk.file)) return files;
  files.add(chunk.file);
  for (const css of chunk.css ?? []) files.add(css);
  for (const imported of chunk.imports ?? []) closure(imported, files);
  return files;
}

const keys = Object.keys(manifest);
const entries = keys.filter((k) => manifest[k].isEntry && /entry\.js$|generated\/client-optimized\/app\.js$/.test(k));
const generated = resolve(here, '../.svelte-kit/generated/client-optimized/nodes');

/** The manifest key of the node whose generated module imports `src/routes/<file>`. */
function nodeFor(file) {
  for (const key of keys) {
    const match = /generated\/client-optimized\/nodes\/(\d+)\.js$/.exec(key);
    if (!match) continue;
    const source = readFileSync(join(generated, `${match[1]}.js`), 'utf8');
    if (source.includes(`src/routes/${file}"`)) return key;
  }
  return undefined;
}

const pages = {
  '/': '+page.svelte',
  '/events/[id]': 'events/[id]/+page.svelte',
  '/reservations/[id]': 'reservations/[id]/+page.svelte',
  '/reservations': 'reservations/+page.svelte',
  '/tickets': 'tickets/+page.svelte',
  '/signin': 'signin/+page.svelte',
  '/account': 'account/+page.svelte',
};
const shared = [...entries, nodeFor('+layout.svelte'), nodeFor('+error.svelte')];

const indexHtml = gz(join(staticDir, 'index.html'));
let worst = 0;
const rows = [];
for (const [route, prefix] of Object.entries(pages)) {
  const files = new Set();
  const leaf = nodeFor(prefix);
  if (!leaf) throw new Error(`no built node for ${route}`);
  for (const key of [...shared, leaf]) {
    if (key) closure(key, files);
  }
  let bytes = indexHtml;
  for (const file of files) bytes += gz(join(clientDir, file));
  worst = Math.max(worst, bytes);
  rows.push([route, (bytes / 1024).toFixed(1), files.size]);
}
console.log('initial load, gzipped (index.html + scripts + stylesheets):');
for (const [route, kb, count] of rows) console.log(`  ${route.padEnd(20)} ${kb.padStart(6)} KB  (${count} files)`);
console.log(`largest: ${(worst / 1024).toFixed(1)} KB of ${BUDGET_KB} KB`);
if (worst > BUDGET_KB * 1024) {
  console.error(`over budget: ${(worst / 1024).toFixed(1)} KB > ${BUDGET_KB} KB`);
  process.exit(1);
}
