import { html, useEffect, useState } from '../vendor/standalone.module.js';
import { subscribe } from '../api.js';
import { errorBox, expiry, stateBadge } from '../format.js';
import { usePoll } from '../hooks.js';

const STATES = ['ready', 'busy', 'draining', 'unhealthy'];

/** Calls and errors per bucket as two SVG polylines; the newest bucket at the right. */
function RateChart({ rates }) {
  if (!rates) return html`<p class="muted">Waiting for the first rates...</p>`;
  const buckets = rates.buckets;
  const width = 600;
  const height = 150;
  const max = Math.max(1, ...buckets.map((b) => b.requests));
  const x = (i) => (i / Math.max(1, buckets.length - 1)) * width;
  const y = (v) => height - (v / max) * (height - 10);
  const line = (key) => buckets.map((b, i) => `${x(i).toFixed(1)},${y(b[key]).toFixed(1)}`).join(' ');
  const total = buckets.reduce((sum, b) => sum + b.requests, 0);
  const errors = buckets.reduce((sum, b) => sum + b.errors, 0);
  const perSecond = (total / (rates.windowMs / 1000)).toFixed(2);
  return html`
    <div class="legend">
      <span><i style="background:#2f5bd3"></i>calls</span>
      <span><i style="background:#c0392b"></i>errors</span>
      <span data-testid="rate-totals">${total} calls, ${errors} errors in 15 min (${perSecond}/s)</span>
    </div>
    <svg
      class="chart"
      viewBox=${`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label="calls and errors per 5 seconds, last 15 minutes"
      data-at=${rates.at}
    >
      <line x1="0" y1=${height} x2=${width} y2=${height} stroke="#dde1e8" />
      <polyline fill="none" stroke="#2f5bd3" stroke-width="2" points=${line('requests')} />
      <polyline fill="none" stroke="#c0392b" stroke-width="2" points=${line('errors')} />
    </svg>
    <div class="legend">
      <span>15 min ago</span><span style="margin-left:auto">now, peak ${max} per 5 s</span>
    </div>
  `;
}

export function Overview() {
  const workers = usePoll('/v1/workers', 2000);
  const capabilities = usePoll('/v1/capabilities', 5000);
  const summary = usePoll('/v1/metrics/summary', 5000);
  const [rates, setRates] = useState(undefined);
  useEffect(() => {
    const abort = new AbortController();
    void subscribe('/v1/metrics/events', (event, data) => event === 'rates' && setRates(data), abort.signal);
    return () => abort.abort();
  }, []);

  const live = (workers.data?.workers ?? []).filter((w) => w.state !== 'gone');
  const byId = new Map();
  for (const c of capabilities.data?.capabilities ?? []) {
    const entry = byId.get(c.id) ?? { id: c.id, versions: [], live: 0 };
    entry.versions.push(c.version);
    entry.live += c.liveWorkers;
    byId.set(c.id, entry);
  }
  const queue = Object.entries(summary.data?.queueDepth ?? {});

  return html`
    <h1>Overview</h1>
    ${errorBox(workers.error ?? capabilities.error)}
    <div class="grid">
      <section class="card">
        <h2>Workers</h2>
        <div class="counts">
          ${STATES.map(
            (state) =>
              html`<div class="count" data-testid=${`count-${state}`}>
                <b>${live.filter((w) => w.state === state).length}</b><span>${state}</span>
              </div>`,
          )}
        </div>
      </section>
      <section class="card">
        <h2>Queue depth</h2>
        ${
          queue.length === 0
            ? html`<p class="muted">No job waiting for a worker.</p>`
            : html`<table>
                ${queue.map(
                  ([id, depth]) =>
                    html`<tr>
                      <td>${id}</td>
                      <td class="num">${depth}</td>
                    </tr>`,
                )}
              </table>`
        }
        ${
          summary.data &&
          html`<p class="muted">
            Load: ${summary.data.load.inFlight} in flight of ${summary.data.load.slots} slots
          </p>`
        }
      </section>
      <section class="card wide">
        <h2>Calls and errors, last 15 minutes</h2>
        <${RateChart} rates=${rates} />
      </section>
      <section class="card">
        <h2>Capabilities</h2>
        <div class="scroll">
          <table>
            <tr>
              <th>capability</th>
              <th>versions</th>
              <th class="num">workers</th>
            </tr>
            ${[...byId.values()].map(
              (c) =>
                html`<tr>
                  <td><a href=${`#/try/${encodeURIComponent(c.id)}`}>${c.id}</a></td>
                  <td>${c.versions.join(', ')}</td>
                  <td class="num">${c.live}</td>
                </tr>`,
            )}
          </table>
        </div>
      </section>
      <section class="card">
        <h2>Certificates</h2>
        <div class="scroll">
          <table>
            <tr>
              <th>worker</th>
              <th>state</th>
              <th>expires</th>
            </tr>
            ${live.map(
              (w) =>
                html`<tr>
                  <td><a href=${`#/workers/${encodeURIComponent(w.id)}`} class="mono">${w.id}</a></td>
                  <td>${stateBadge(w.state)}</td>
                  <td>${expiry(w.certNotAfter)}</td>
                </tr>`,
            )}
          </table>
        </div>
      </section>
    </div>
  `;
}
