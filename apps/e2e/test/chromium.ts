import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; `.ci/run` installs it when missing and sets CRANK_REQUIRE_CHROMIUM. */
const CHROMIUM = process.env['CRANK_CHROMIUM'] ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the browser tests save their screenshots. */
export const SCREENSHOTS = join(import.meta.dirname, '../../../tmp/test-output/ui');

/**
 * Whether the browser tests can run here. Without Chromium they skip with a line, unless
 * CRANK_REQUIRE_CHROMIUM is set (CI), where its absence is an error.
 */
export function chromiumAvailable(suite: string): boolean {
  const available = existsSync(CHROMIUM);
  if (!available && process.env['CRANK_REQUIRE_CHROMIUM']) {
    throw new Error(`${CHROMIUM} is missing and CRANK_REQUIRE_CHROMIUM is set`);
  }
  if (!available) console.warn(`${suite} skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  return available;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}
