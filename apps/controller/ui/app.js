// The Crank dashboard: a few pages over the controller's public HTTP API, drawn with Preact and
// htm (one vendored file, no build step). Routes live in the URL hash.
import { html, render, useEffect, useState } from './vendor/standalone.module.js';
import { apiKey, onUnauthorized, setApiKey } from './api.js';
import { JobPage, Jobs } from './pages/jobs.js';
import { Overview } from './pages/overview.js';
import { Try } from './pages/try.js';
import { WorkerPage, Workers } from './pages/workers.js';

function route(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (parts[0]) {
    case 'workers':
      return parts[1]
        ? { page: 'workers', node: html`<${WorkerPage} id=${parts[1]} />` }
        : { page: 'workers', node: html`<${Workers} />` };
    case 'jobs':
      return parts[1]
        ? { page: 'jobs', node: html`<${JobPage} id=${parts[1]} />` }
        : { page: 'jobs', node: html`<${Jobs} />` };
    case 'try':
      return { page: 'try', node: html`<${Try} id=${parts[1]} />` };
    default:
      return { page: 'overview', node: html`<${Overview} />` };
  }
}

/** Asks for an API key when the API answered 401 (HTTP auth on); kept for this tab only. */
function KeyPrompt({ onDone }) {
  const [value, setValue] = useState('');
  return html`<div class="card" style="max-width:32rem;margin:2rem auto">
    <h2>API key</h2>
    <p>This controller needs an API key (<code>crank keys create</code> on its host).</p>
    <form
      onSubmit=${(e) => {
        e.preventDefault();
        setApiKey(value.trim());
        onDone();
      }}
    >
      <input
        type="password"
        autocomplete="off"
        style="width:100%"
        value=${value}
        onInput=${(e) => setValue(e.currentTarget.value)}
        placeholder="crk_..."
      />
      <div class="actions"><button type="submit">Use this key</button></div>
    </form>
  </div>`;
}

function App() {
  const [hash, setHash] = useState(location.hash);
  const [needKey, setNeedKey] = useState(false);
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    addEventListener('hashchange', onHash);
    const off = onUnauthorized(() => setNeedKey(true));
    return () => {
      removeEventListener('hashchange', onHash);
      off();
    };
  }, []);
  const { page, node } = route(hash);
  const link = (name, href, label) =>
    html`<a href=${href} class=${page === name ? 'active' : ''}>${label}</a>`;
  return html`
    <header>
      <span class="brand">Crank</span>
      <nav>
        ${link('overview', '#/', 'Overview')} ${link('workers', '#/workers', 'Workers')}
        ${link('jobs', '#/jobs', 'Jobs')} ${link('try', '#/try', 'Try it')}
      </nav>
      ${
        apiKey() &&
        html`<span class="who"
          ><a
            href="#"
            style="color:inherit"
            onClick=${(e) => {
              e.preventDefault();
              setApiKey('');
              location.reload();
            }}
            >forget key</a
          ></span
        >`
      }
    </header>
    <main>
      ${
        needKey
          ? html`<${KeyPrompt}
              onDone=${() => {
                setNeedKey(false);
                location.reload();
              }}
            />`
          : node
      }
    </main>
  `;
}

const root = document.getElementById('root');
root.textContent = ''; // the "Loading" line, which render() would otherwise keep
render(html`<${App} />`, root);
