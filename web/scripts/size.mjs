#!/usr/bin/env node
// What a visitor downloads on the first visit to each page, gzipped: index.html, the entry
// scripts and their static imports, the layouts and the page's own chunks and stylesheets.
// Reads the Vite manifest of the last `npm run build`. Fails when a buyer page is above the
// budget or above its recorded weight (scripts/size-baseline.json) by more than the tolerance,
// or loads anything of the organiser console (Chart.js, the door's signature checks).
//
//   npm run size                     (after npm run build)
//   npm run size -- --record         write the buyer pages' weights as the new baseline
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 120;
/** A buyer page may weigh this much more than its baseline (rounding, a changed hash). */
const TOLERANCE_KB = 0.3;
/** Strings only the console's code contains: Chart.js, and the door's Ed25519 checks. */
const ADMIN_MARKERS = ['Canvas is already in use', 'Ed25519'];
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
const adminPages = {
  '/admin': 'admin/+page.svelte',
  '/admin/events/new': 'admin/events/new/+page.svelte',
  '/admin/events/[id]': 'admin/events/[id]/+page.svelte',
  '/admin/events/[id]/edit': 'admin/events/[id]/edit/+page.svelte',
  '/admin/events/[id]/orders': 'admin/events/[id]/orders/+page.svelte',
  '/admin/analytics': 'admin/analytics/+page.svelte',
  '/admin/checkin': 'admin/checkin/+page.svelte',
  '/admin/checkin/[event]': 'admin/checkin/[event]/+page.svelte',
};
const shared = [...entries, nodeFor('+layout.svelte'), nodeFor('+error.svelte')];
const adminShared = [...shared, nodeFor('admin/+layout.svelte')];

const indexHtml = gz(join(staticDir, 'index.html'));
const kb = (bytes) => (bytes / 1024).toFixed(1);

function weigh(table, sharedKeys) {
  const rows = [];
  for (const [route, file] of Object.entries(table)) {
    const files = new Set();
    const leaf = nodeFor(file);
    if (!leaf) throw new Error(`no built node for ${route}`);
    for (const key of [...sharedKeys, leaf]) if (key) closure(key, files);
    let bytes = indexHtml;
    for (const f of files) bytes += gz(join(clientDir, f));
    rows.push({ route, bytes, files });
  }
  return rows;
}

const buyer = weigh(pages, shared);
const admin = weigh(adminPages, adminShared);
const buyerFiles = new Set(buyer.flatMap((r) => [...r.files]));
const adminOnly = new Set(admin.flatMap((r) => [...r.files]).filter((f) => !buyerFiles.has(f)));
let adminOnlyBytes = 0;
for (const f of adminOnly) adminOnlyBytes += gz(join(clientDir, f));

const baselinePath = resolve(here, 'size-baseline.json');
const baseline = existsSync(baselinePath) ? JSON.parse(readFileSync(baselinePath, 'utf8')) : {};
const problems = [];

console.log('buyer pages, first load gzipped (index.html + scripts + stylesheets):');
for (const { route, bytes, files } of buyer) {
  const before = baseline[route];
  const change = Number((bytes / 1024 - before).toFixed(1));
  const delta = before === undefined ? '' : `  (${change >= 0 ? '+' : ''}${change.toFixed(1)} KB vs baseline ${before} KB)`;
  console.log(`  ${route.padEnd(28)} ${kb(bytes).padStart(6)} KB  (${files.size} files)${delta}`);
  if (bytes > BUDGET_KB * 1024) problems.push(`${route}: ${kb(bytes)} KB is over the ${BUDGET_KB} KB budget`);
  if (before !== undefined && bytes / 1024 > before + TOLERANCE_KB) problems.push(`${route} grew: ${kb(bytes)} KB > ${before} KB`);
  for (const f of files) {
    const text = readFileSync(join(clientDir, f), 'utf8');
    for (const marker of ADMIN_MARKERS) if (text.includes(marker)) problems.push(`${route} loads console code (${f} has “${marker}”)`);
  }
}
console.log('organiser console, first load gzipped:');
for (const { route, bytes, files } of admin) console.log(`  ${route.padEnd(28)} ${kb(bytes).padStart(6)} KB  (${files.size} files)`);
console.log(`console-only code, all admin pages together: ${kb(adminOnlyBytes)} KB gzipped in ${adminOnly.size} files (never loaded by buyer pages)`);
console.log(`largest buyer page: ${kb(Math.max(...buyer.map((r) => r.bytes)))} KB of ${BUDGET_KB} KB`);

if (process.argv.includes('--record')) {
  const record = Object.fromEntries(buyer.map((r) => [r.route, Number(kb(r.bytes))]));
  writeFileSync(baselinePath, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`recorded ${baselinePath}`);
} else if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
