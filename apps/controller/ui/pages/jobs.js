import { html, useState } from '../vendor/standalone.module.js';
import { api } from '../api.js';
import { ago, errorBox, payload, stateBadge, time } from '../format.js';
import { usePoll } from '../hooks.js';

export const JOB_STATES = [
  'pending',
  'assigned',
  'processing',
  'completed',
  'failed',
  'cancelled',
  'dead_letter',
];
const CANCELLABLE = new Set(['pending', 'assigned', 'processing']);
const RETRYABLE = new Set(['failed', 'dead_letter']);

/** The query string of GET /v1/jobs for a filter (empty fields left out). */
function jobsQuery(filter, cursor) {
  const query = new URLSearchParams();
  if (filter.status.length > 0) query.set('status', filter.status.join(','));
  for (const key of ['capability', 'priorityMin', 'priorityMax', 'from', 'to']) {
    if (filter[key] !== '') {
      query.set(key, key === 'from' || key === 'to' ? new Date(filter[key]).toISOString() : filter[key]);
    }
  }
  query.set('limit', '25');
  if (cursor) query.set('cursor', cursor);
  return `/v1/jobs?${query}`;
}

const EMPTY_FILTER = { status: [], capability: '', priorityMin: '', priorityMax: '', from: '', to: '' };

export function Jobs() {
  const [draft, setDraft] = useState(EMPTY_FILTER);
  const [filter, setFilter] = useState(EMPTY_FILTER);
  // Cursors of the pages before this one, so that "Previous" works with a forward-only cursor.
  const [cursors, setCursors] = useState([undefined]);
  const cursor = cursors[cursors.length - 1];
  const { data, error } = usePoll(jobsQuery(filter, cursor), 3000);
  const jobs = data?.jobs ?? [];

  const set = (key) => (event) => setDraft({ ...draft, [key]: event.currentTarget.value });
  const toggle = (state) => (event) =>
    setDraft({
      ...draft,
      status: event.currentTarget.checked
        ? [...draft.status, state]
        : draft.status.filter((s) => s !== state),
    });
  function apply(event) {
    event.preventDefault();
    setFilter(draft);
    setCursors([undefined]);
  }

  return html`
    <h1>Jobs</h1>
    <form class="filters card" onSubmit=${apply}>
      <fieldset>
        <legend>status</legend>
        ${JOB_STATES.map(
          (state) =>
            html`<label class="inline">
              <input
                type="checkbox"
                checked=${draft.status.includes(state)}
                onChange=${toggle(state)}
              />${state}
            </label>`,
        )}
      </fieldset>
      <label
        >capability<input value=${draft.capability} onInput=${set('capability')} placeholder="any"
      /></label>
      <label
        >priority from<input
          type="number"
          min="0"
          max="10"
          value=${draft.priorityMin}
          onInput=${set('priorityMin')}
      /></label>
      <label
        >to<input type="number" min="0" max="10" value=${draft.priorityMax} onInput=${set('priorityMax')}
      /></label>
      <label>created after<input type="datetime-local" value=${draft.from} onInput=${set('from')} /></label>
      <label>created before<input type="datetime-local" value=${draft.to} onInput=${set('to')} /></label>
      <button type="submit">Apply</button>
      <button
        type="button"
        class="secondary"
        onClick=${() => {
          setDraft(EMPTY_FILTER);
          setFilter(EMPTY_FILTER);
          setCursors([undefined]);
        }}
      >
        Clear
      </button>
    </form>
    ${errorBox(error)}
    <div class="card scroll">
      <table data-testid="jobs">
        <tr>
          <th>job</th>
          <th>capability</th>
          <th>state</th>
          <th class="num">priority</th>
          <th class="num hide-narrow">attempts</th>
          <th>created</th>
        </tr>
        ${jobs.map(
          (job) =>
            html`<tr class="link" onClick=${() => (location.hash = `#/jobs/${job.id}`)}>
              <td><a href=${`#/jobs/${job.id}`} class="mono">${job.id.slice(0, 8)}</a></td>
              <td>${job.capability}</td>
              <td>${stateBadge(job.state)}</td>
              <td class="num">${job.priority}</td>
              <td class="num hide-narrow">${job.attempts} / ${job.maxAttempts}</td>
              <td>${ago(job.createdAt)}</td>
            </tr>`,
        )}
      </table>
      ${jobs.length === 0 && data ? html`<p class="muted">No job matches.</p>` : null}
      <div class="actions">
        <button
          class="secondary"
          disabled=${cursors.length < 2}
          onClick=${() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <button
          class="secondary"
          disabled=${!data?.nextCursor}
          onClick=${() => setCursors([...cursors, data.nextCursor])}
        >
          Next
        </button>
      </div>
    </div>
  `;
}

export function JobPage({ id }) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const { data: job, error, reload } = usePoll(path, 1000);
  const [actionError, setActionError] = useState(undefined);
  const [busy, setBusy] = useState(false);

  async function act(method, suffix) {
    setBusy(true);
    setActionError(undefined);
    try {
      await api(path + suffix, { method });
      await reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  }

  if (!job)
    return html`<h1 class="mono">${id}</h1>
      ${errorBox(error) ?? html`<p class="loading">Loading...</p>`}`;
  return html`
    <h1><a href="#/jobs">Jobs</a> / <span class="mono">${job.id}</span></h1>
    ${errorBox(actionError)}
    <div class="actions">
      ${
        CANCELLABLE.has(job.state) &&
        html`<button
          class="danger"
          disabled=${busy || job.cancelRequested}
          onClick=${() => act('DELETE', '')}
          data-testid="cancel"
        >
          ${job.cancelRequested ? 'Cancel requested' : 'Cancel'}
        </button>`
      }
      ${
        RETRYABLE.has(job.state) &&
        html`<button disabled=${busy} onClick=${() => act('POST', '/retry')} data-testid="retry">
          Retry
        </button>`
      }
    </div>
    <div class="grid">
      <section class="card">
        <h2>Job</h2>
        <dl class="fields">
          <dt>state</dt>
          <dd data-testid="job-state">${stateBadge(job.state)}</dd>
          <dt>capability</dt>
          <dd>${job.versionRange ? `${job.capability}, versions ${job.versionRange}` : job.capability}</dd>
          <dt>progress</dt>
          <dd>
            <div class="progress"><div style=${`width:${Math.round(job.progress * 100)}%`}></div></div>
            ${Math.round(job.progress * 100)}% ${job.progressMessage}
          </dd>
          <dt>attempts</dt>
          <dd>${job.attempts} of ${job.maxAttempts}</dd>
          <dt>priority</dt>
          <dd>${job.priority}</dd>
          <dt>worker</dt>
          <dd class="mono">${job.workerId || '-'}</dd>
          <dt>caller</dt>
          <dd>${job.caller}</dd>
          <dt>created</dt>
          <dd>${time(job.createdAt)}</dd>
          <dt>runs at</dt>
          <dd>${time(job.runAt)}</dd>
          <dt>started</dt>
          <dd>${time(job.startedAt)}</dd>
          <dt>finished</dt>
          <dd>${time(job.finishedAt)}</dd>
        </dl>
      </section>
      <section class="card">
        <h2>Input</h2>
        ${payload(job.input)}
        <h2>Result</h2>
        ${job.error ? errorBox(job.error) : payload(job.output)}
      </section>
      <section class="card wide">
        <h2>Timeline</h2>
        <ol class="timeline" data-testid="timeline">
          ${(job.timeline ?? []).map(
            (event) =>
              html`<li>
                <span class="muted">${time(event.at)}</span>
                ${
                  event.kind === 'state'
                    ? html`<span>${event.from ? `${event.from} -> ` : ''}${stateBadge(event.to)}</span>`
                    : html`<span>progress ${Math.round(event.progress * 100)}%</span>`
                }
                ${event.workerId ? html`<span class="mono muted">${event.workerId}</span>` : null}
                ${event.errorCode ? html`<span class="bad">${event.errorCode}: ${event.errorMessage}</span>` : null}
                ${event.message ? html`<span>${event.message}</span>` : null}
              </li>`,
          )}
        </ol>
      </section>
    </div>
  `;
}
