// browser.smoke: the browser tooling works on this machine, independent of the gateway. Debian's
// Chromium starts headless through playwright-core, loads a page from a local HTTP server (port 0)
// under the same Content-Security-Policy as the digital-space page, runs its script, computes a
// SHA-256 with WebCrypto (the page's integrity badge needs it), keeps Kazakh text intact, and
// saves a blob-URL download (the page's CSV export). Exit 0 on success, 1 with a reason otherwise.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { launch, MissingDependency } from './lib/chromium.mjs';

const ARTIFACTS = path.join(process.env.QAQPA_BROWSER_ARTIFACTS || path.join(os.tmpdir(), 'qaqpa-browser-artifacts'), 'smoke');
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const KAZAKH = 'Менің деректерімді кім пайдаланды? Әділет, ғылым, өңір, ұлт, үміт, қала, һәм, іс';

const FILES = {
  '/smoke/': ['text/html; charset=utf-8', `<!doctype html><html lang="kk"><head><meta charset="utf-8">
<title>smoke</title><script type="module" src="app.js"></script></head>
<body><h1 data-testid="heading">${KAZAKH}</h1><p data-testid="digest"></p>
<button data-testid="download">csv</button></body></html>`],
  // A module script, so top-level await works as in the page.
  '/smoke/app.js': ['text/javascript; charset=utf-8', `
const bytes = await (await fetch('data.bin')).arrayBuffer();
const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
document.querySelector('[data-testid=digest]').dataset.sha256 =
  Array.from(digest, b => b.toString(16).padStart(2, '0')).join('');
document.querySelector('[data-testid=download]').addEventListener('click', () => {
  const text = '\\ufeff"уақыт","оқиға"\\r\\n"2026-11-23 14:17:01","Деректерге қол жеткізу"\\r\\n';
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], {type: 'text/csv'}));
  a.download = 'smoke.csv';
  document.body.append(a);
  a.click();
  a.remove();
});`],
  '/smoke/data.bin': ['application/octet-stream', crypto.randomBytes(4096)],
};

function serve() {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, 'http://x').pathname;
    if (pathname === '/favicon.ico') { res.writeHead(204).end(); return; }
    const file = FILES[pathname];
    if (!file || req.method !== 'GET') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': file[0], 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
    res.end(file[1]);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const server = await serve();
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const problems = [];
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', e => problems.push(`pageerror: ${e.message}`));
    const response = await page.goto(`${base}/smoke/`, { timeout: 30_000 });
    assert.equal(response.status(), 200);
    const expected = crypto.createHash('sha256').update(FILES['/smoke/data.bin'][1]).digest('hex');
    await page.waitForSelector('[data-testid=digest][data-sha256]', { state: 'attached', timeout: 30_000 });
    assert.equal(await page.getAttribute('[data-testid=digest]', 'data-sha256'), expected,
      'WebCrypto SHA-256 in the page');
    assert.equal(await page.textContent('[data-testid=heading]'), KAZAKH, 'Kazakh text intact');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      page.click('[data-testid=download]'),
    ]);
    assert.equal(download.suggestedFilename(), 'smoke.csv');
    const saved = path.join(ARTIFACTS, 'smoke.csv');
    await download.saveAs(saved);
    const bytes = fs.readFileSync(saved);
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte-order mark');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(3));
    assert.ok(text.includes('"Деректерге қол жеткізу"'), `download decoded: ${text}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'smoke.png'), fullPage: true });
    assert.deepEqual(problems, [], 'no console errors or page errors');
    console.log(`browser.smoke: Chromium ${browser.version()} OK; screenshot ${ARTIFACTS}/smoke.png`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().then(() => process.exit(0), e => {
  if (e instanceof MissingDependency) console.error(`FAIL: ${e.message}`);
  else console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
