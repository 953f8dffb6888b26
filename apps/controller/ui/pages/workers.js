import { html, useState } from '../vendor/standalone.module.js';
import { api } from '../api.js';
import { ago, errorBox, expiry, stateBadge, time } from '../format.js';
import { usePoll } from '../hooks.js';

function latency(ms) {
  return ms === null || ms === undefined ? '-' : `${ms.toFixed(1)} ms`;
}

export function Workers() {
  const { data, error } = usePoll('/v1/workers', 2000);
  const workers = data?.workers ?? [];
  return html`
    <h1>Workers</h1>
    ${errorBox(error)}
    <div class="card scroll">
      <table data-testid="workers">
        <tr>
          <th>worker</th>
          <th>state</th>
          <th>capabilities</th>
          <th class="num">in flight</th>
          <th class="num hide-narrow">latency</th>
          <th class="hide-narrow">last heartbeat</th>
          <th class="hide-narrow">GPU</th>
        </tr>
        ${workers.map(
          (w) =>
            html`<tr class="link" onClick=${() => (location.hash = `#/workers/${encodeURIComponent(w.id)}`)}>
              <td><a href=${`#/workers/${encodeURIComponent(w.id)}`} class="mono">${w.id}</a></td>
              <td>${stateBadge(w.state)}</td>
              <td>${w.capabilities.map((c) => `${c.id}@${c.version}`).join(', ')}</td>
              <td class="num">${w.inFlight} / ${w.maxInFlight}</td>
              <td class="num hide-narrow">${latency(w.latencyMs)}</td>
              <td class="hide-narrow">${ago(w.lastHeartbeat)}</td>
              <td class="hide-narrow">${w.gpu ? 'yes' : 'no'}</td>
            </tr>`,
        )}
      </table>
      ${workers.length === 0 && !error ? html`<p class="muted">No worker has registered yet.</p>` : null}
    </div>
  `;
}

export function WorkerPage({ id }) {
  const path = `/v1/workers/${encodeURIComponent(id)}`;
  const { data: worker, error, reload } = usePoll(path, 2000);
  const [actionError, setActionError] = useState(undefined);
  const [busy, setBusy] = useState(false);

  async function drain() {
    if (!confirm(`Drain ${id}? It takes no new calls, finishes the ones it has, deregisters and exits.`)) {
      return;
    }
    setBusy(true);
    setActionError(undefined);
    try {
      await api(`${path}/drain`, { method: 'POST' });
      await reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  }

  if (!worker)
    return html`<h1 class="mono">${id}</h1>
      ${errorBox(error) ?? html`<p class="loading">Loading...</p>`}`;
  const errors = worker.recentCalls.filter((c) => c.code !== 'ok');
  const canDrain = worker.state !== 'gone' && !worker.drainRequested;
  return html`
    <h1><a href="#/workers">Workers</a> / <span class="mono">${worker.id}</span></h1>
    ${errorBox(error)} ${errorBox(actionError)}
    <div class="actions">
      <button class="danger" disabled=${!canDrain || busy} onClick=${drain} data-testid="drain">
        ${worker.drainRequested ? 'Drain requested' : 'Drain'}
      </button>
    </div>
    <div class="grid">
      <section class="card">
        <h2>State</h2>
        <dl class="fields">
          <dt>state</dt>
          <dd data-testid="worker-state">${stateBadge(worker.state)}</dd>
          <dt>address</dt>
          <dd class="mono">${worker.address}</dd>
          <dt>in flight</dt>
          <dd>${worker.inFlight} / ${worker.maxInFlight}</dd>
          <dt>calls</dt>
          <dd>${worker.completed} finished, ${worker.failed} failed by the worker</dd>
          <dt>latency</dt>
          <dd>${latency(worker.latencyMs)} (EWMA)</dd>
          <dt>last heartbeat</dt>
          <dd>${ago(worker.lastHeartbeat)}</dd>
          <dt>registered</dt>
          <dd>${time(worker.registeredAt)}</dd>
          <dt>certificate</dt>
          <dd>expires ${expiry(worker.certNotAfter)}</dd>
          <dt>GPU</dt>
          <dd>${worker.gpu ? 'yes' : 'no'}</dd>
          <dt>runtime</dt>
          <dd>${worker.runtimeVersion || '-'}</dd>
        </dl>
      </section>
      <section class="card">
        <h2>Capabilities</h2>
        <table>
          <tr>
            <th>capability</th>
            <th>ready</th>
            <th class="num">in flight</th>
          </tr>
          ${worker.capabilities.map(
            (c) =>
              html`<tr>
                <td>${c.id}@${c.version}</td>
                <td>${c.ready ? 'yes' : html`<span class="warn">no</span> ${c.reason}`}</td>
                <td class="num">${c.inFlight}</td>
              </tr>`,
          )}
        </table>
      </section>
      <section class="card wide">
        <h2>Recent calls</h2>
        <p class="muted">${worker.recentCalls.length} shown, ${errors.length} of them errors.</p>
        <div class="scroll">
          <table data-testid="recent-calls">
            <tr>
              <th>finished</th>
              <th>capability</th>
              <th>result</th>
              <th class="num">latency</th>
            </tr>
            ${worker.recentCalls.map(
              (c) =>
                html`<tr>
                  <td>${ago(c.at)}</td>
                  <td>${c.capability}</td>
                  <td class=${c.code === 'ok' ? '' : 'bad'}>${c.code}</td>
                  <td class="num">${latency(c.latencyMs)}</td>
                </tr>`,
            )}
          </table>
        </div>
      </section>
    </div>
  `;
}
