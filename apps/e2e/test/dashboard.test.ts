import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { SCREENSHOTS, chromiumAvailable, launchChromium } from './chromium.js';
import { Cluster } from './harness.js';

const available = chromiumAvailable('dashboard tests');

/** Waits until the element with `testId` reads `text` (a state badge). */
async function state(page: Page, testId: string, text: string | RegExp, timeout = 10_000): Promise<void> {
  const exact = typeof text === 'string' ? new RegExp(`^${text}$`) : text;
  await page.getByTestId(testId).getByText(exact).waitFor({ timeout });
}

/**
 * The dashboard in headless Chromium against a real controller and echo worker: it shows the
 * worker, runs a job from "Try it" to its timeline, cancels a pending job and drains the worker.
 * Each page is saved as a screenshot under tmp/test-output/ui.
 */
(available ? describe : describe.skip)('the dashboard at /ui', () => {
  let cluster: Cluster;
  let browser: Browser;
  let page: Page;
  let workerId: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    cluster = await Cluster.start({ heartbeatMs: 300 });
    workerId = (await cluster.startEcho()).id;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  const shot = (name: string): Promise<Buffer> =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  it('shows the worker and the call rate on the overview, updated live', async () => {
    await page.goto(`${cluster.httpUrl}/ui`);
    await page.getByRole('link', { name: workerId }).waitFor();
    expect(await page.getByTestId('count-ready').textContent()).toContain('1');

    // Calls made now show in the chart, which the rates event stream keeps current.
    const client = await cluster.client();
    await Promise.all(Array.from({ length: 5 }, (_, n) => client.invoke('debug.echo', { message: `m${n}` })));
    await page
      .getByTestId('rate-totals')
      .getByText(/^([5-9]|\d{2,}) calls/)
      .waitFor({ timeout: 10_000 });
    await shot('overview');
  }, 30_000);

  it('submits a job from "Try it" and shows it completed with its timeline', async () => {
    await page.goto(`${cluster.httpUrl}/ui/#/try`);
    await page.getByTestId('capability').selectOption({ label: 'debug.echo@1.0.0' });
    await page.getByLabel('message').fill('from the dashboard');
    await page.getByTestId('invoke').click();
    await page.getByTestId('output').getByText('from the dashboard').waitFor();
    await shot('try-it');

    await page.getByTestId('submit-job').click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
    await state(page, 'job-state', 'completed', 15_000);
    const timeline = await page.getByTestId('timeline').textContent();
    expect(timeline).toContain('pending');
    expect(timeline).toContain('completed');
    await shot('job');

    await page.goto(`${cluster.httpUrl}/ui/#/jobs`);
    await page.getByTestId('jobs').getByText('debug.echo').first().waitFor();
    await shot('jobs');
  }, 30_000);

  it('cancels a pending job', async () => {
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const submitted = await cluster.http('/v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capability: 'debug.echo', input: { message: 'later' }, runAt }),
    });
    const jobId = (submitted.body as { id: string }).id;

    await page.goto(`${cluster.httpUrl}/ui/#/jobs/${jobId}`);
    await state(page, 'job-state', 'pending');
    await page.getByTestId('cancel').click();
    await state(page, 'job-state', 'cancelled');
    expect(cluster.controller.lines).toContainEqual(
      expect.objectContaining({ event: 'job_cancel_requested', jobId, by: 'http' }),
    );
  }, 30_000);

  it('drains the worker from its page: its state changes and it leaves', async () => {
    await page.goto(`${cluster.httpUrl}/ui/#/workers/${encodeURIComponent(workerId)}`);
    await state(page, 'worker-state', 'ready');
    await page.getByTestId('recent-calls').getByText('debug.echo@1.0.0').first().waitFor();
    await shot('worker');

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByTestId('drain').click();
    await state(page, 'worker-state', /^(draining|gone)$/, 15_000);
    // The worker finishes, deregisters and exits by itself.
    await state(page, 'worker-state', 'gone', 20_000);
    expect(cluster.controller.lines).toContainEqual(
      expect.objectContaining({ event: 'worker_drain_requested', workerId, by: 'http' }),
    );

    await page.goto(`${cluster.httpUrl}/ui/#/workers`);
    await page.getByTestId('workers').getByText('gone').waitFor();
    await shot('workers');
  }, 60_000);

  it('fits a phone screen: nothing wider than the viewport', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      for (const route of ['#/', '#/workers', '#/jobs', '#/try/debug.echo@1.0.0']) {
        await phone.goto(`${cluster.httpUrl}/ui/${route}`);
        await phone.locator('main h1').waitFor();
        const overflow = await phone.evaluate('document.documentElement.scrollWidth - innerWidth');
        expect({ route, overflow }).toEqual({ route, overflow: 0 });
      }
      await phone.goto(`${cluster.httpUrl}/ui/#/`);
      await phone.locator('main h1').waitFor();
      await phone.screenshot({ path: join(SCREENSHOTS, 'overview-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  }, 30_000);
});
