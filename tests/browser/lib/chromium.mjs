// Launching Debian's Chromium (/usr/bin/chromium) through playwright-core, which never downloads a
// browser of its own. The flags keep Chromium off the network: on a closed network (CI, this
// project's machines) its background fetches (component updates, sync, QUIC probes) otherwise
// stall start-up and page loads.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.QAQPA_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const HERE = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export class MissingDependency extends Error {}

// playwright-core from tests/browser/node_modules, or a MissingDependency naming the fix.
export async function loadPlaywright() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new MissingDependency(`${CHROMIUM} is missing: run ./qaqpa.sh deps (installs Debian's chromium)`);
  }
  const require = createRequire(path.join(HERE, 'package.json'));
  let resolved;
  try {
    resolved = require.resolve('playwright-core');
  } catch {
    throw new MissingDependency(
      `playwright-core is not installed in ${HERE}/node_modules: run ./qaqpa.sh deps (npm ci --prefix tests/browser)`);
  }
  return (await import(resolved)).default ?? (await import(resolved));
}

export async function launch() {
  const { chromium } = await loadPlaywright();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}
