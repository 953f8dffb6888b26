import { html, useEffect, useState } from '../vendor/standalone.module.js';
import { api } from '../api.js';
import { errorBox } from '../format.js';
import { usePoll } from '../hooks.js';

/** What a form can edit field by field: an object schema's scalar properties. */
function fieldsOf(schema) {
  if (!schema || schema.type !== 'object' || !schema.properties) return undefined;
  return Object.entries(schema.properties).map(([name, prop]) => ({
    name,
    prop,
    required: (schema.required ?? []).includes(name),
  }));
}

/** The input a form's values stand for: typed, empty optional fields left out. */
function inputOf(fields, values) {
  const input = {};
  for (const { name, prop } of fields) {
    const raw = values[name];
    if (raw === undefined || raw === '') continue;
    if (prop.type === 'integer' || prop.type === 'number') input[name] = Number(raw);
    else if (prop.type === 'boolean') input[name] = raw === true;
    else if (prop.type === 'string') input[name] = raw;
    else input[name] = JSON.parse(raw); // objects and arrays are typed in as JSON
  }
  return input;
}

function describeMode(capability) {
  const mode =
    capability.streaming === 'none'
      ? 'unary'
      : `streams (${capability.streaming}): call it with POST /v1/stream/${capability.id}`;
  return `${capability.liveWorkers} live worker(s); ${mode}`;
}

function Field({ field, value, onChange }) {
  const { name, prop, required } = field;
  const id = `field-${name}`;
  const label = html`<label for=${id}>${name}${required ? ' *' : ''}</label>`;
  const hint = prop.description ? html`<div class="hint">${prop.description}</div>` : null;
  let control;
  if (Array.isArray(prop.enum)) {
    control = html`<select
      id=${id}
      name=${name}
      value=${value ?? ''}
      onChange=${(e) => onChange(e.currentTarget.value)}
    >
      <option value="">${required ? 'choose' : '(none)'}</option>
      ${prop.enum.map((v) => html`<option value=${v}>${String(v)}</option>`)}
    </select>`;
  } else if (prop.type === 'boolean') {
    control = html`<input
      id=${id}
      name=${name}
      type="checkbox"
      checked=${value === true}
      onChange=${(e) => onChange(e.currentTarget.checked)}
    />`;
  } else if (prop.type === 'integer' || prop.type === 'number') {
    control = html`<input
      id=${id}
      name=${name}
      type="number"
      step=${prop.type === 'integer' ? 1 : 'any'}
      min=${prop.minimum}
      max=${prop.maximum}
      value=${value ?? ''}
      onInput=${(e) => onChange(e.currentTarget.value)}
    />`;
  } else if (prop.type === 'string') {
    control = html`<input
      id=${id}
      name=${name}
      value=${value ?? ''}
      maxlength=${prop.maxLength}
      onInput=${(e) => onChange(e.currentTarget.value)}
    />`;
  } else {
    control = html`<textarea
      id=${id}
      name=${name}
      placeholder="JSON"
      value=${value ?? ''}
      onInput=${(e) => onChange(e.currentTarget.value)}
    ></textarea>`;
  }
  return html`<div class="form-field">${label}${control}${hint}</div>`;
}

export function Try({ id }) {
  const { data, error } = usePoll('/v1/capabilities', 0);
  const capabilities = data?.capabilities ?? [];
  const [selected, setSelected] = useState(id ?? '');
  const [values, setValues] = useState({});
  const [rawJson, setRawJson] = useState('{}');
  const [asJson, setAsJson] = useState(false);
  const [result, setResult] = useState(undefined);
  const [busy, setBusy] = useState(false);

  useEffect(() => setSelected(id ?? ''), [id]);
  const capability = capabilities.find((c) => `${c.id}@${c.version}` === selected || c.id === selected);
  const fields = fieldsOf(capability?.inputSchema);
  const useForm = fields !== undefined && !asJson;
  useEffect(() => {
    setValues({});
    setResult(undefined);
    setAsJson(false);
  }, [capability?.id, capability?.version]);

  function input() {
    return useForm ? inputOf(fields, values) : JSON.parse(rawJson);
  }

  async function run(kind) {
    setBusy(true);
    setResult(undefined);
    try {
      const body = input();
      if (kind === 'invoke') {
        const path = `/v1/invoke/${encodeURIComponent(capability.id)}?version=${encodeURIComponent(capability.version)}`;
        setResult({ output: await api(path, { method: 'POST', body }) });
      } else {
        const job = await api('/v1/jobs', {
          method: 'POST',
          body: { capability: capability.id, version: capability.version, input: body },
        });
        location.hash = `#/jobs/${job.id}`;
      }
    } catch (e) {
      setResult({
        error: e instanceof SyntaxError ? { code: 'INVALID_INPUT', message: `not JSON: ${e.message}` } : e,
      });
    } finally {
      setBusy(false);
    }
  }

  return html`
    <h1>Try it</h1>
    ${errorBox(error)}
    <div class="grid">
      <section class="card">
        <label
          >capability
          <select
            data-testid="capability"
            value=${capability ? `${capability.id}@${capability.version}` : ''}
            onChange=${(e) => (location.hash = `#/try/${encodeURIComponent(e.currentTarget.value)}`)}
          >
            <option value="">choose a capability</option>
            ${capabilities.map((c) => html`<option value=${`${c.id}@${c.version}`}>${c.id}@${c.version}</option>`)}
          </select>
        </label>
        ${
          capability &&
          html`<p>${capability.description}</p>
            <p class="muted">${describeMode(capability)}</p>
            <h2>Input schema</h2>
            <pre data-testid="input-schema">${JSON.stringify(capability.inputSchema, null, 2)}</pre>`
        }
      </section>
      ${
        capability &&
        html`<section class="card">
          <h2>Input</h2>
          ${
            fields &&
            html`<label class="inline"
              ><input
                type="checkbox"
                checked=${asJson}
                onChange=${(e) => {
                  setAsJson(e.currentTarget.checked);
                  if (e.currentTarget.checked) setRawJson(JSON.stringify(inputOf(fields, values), null, 2));
                }}
              />edit as JSON</label
            >`
          }
          <form
            onSubmit=${(e) => {
              e.preventDefault();
              void run('invoke');
            }}
          >
            ${
              useForm
                ? fields.map(
                    (f) =>
                      html`<${Field}
                        field=${f}
                        value=${values[f.name]}
                        onChange=${(v) => setValues({ ...values, [f.name]: v })}
                      />`,
                  )
                : html`<textarea
                    data-testid="raw-input"
                    value=${rawJson}
                    onInput=${(e) => setRawJson(e.currentTarget.value)}
                  ></textarea>`
            }
            <div class="actions">
              <button type="submit" disabled=${busy || capability.streaming !== 'none'} data-testid="invoke">
                Invoke
              </button>
              <button
                type="button"
                class="secondary"
                disabled=${busy}
                onClick=${() => run('job')}
                data-testid="submit-job"
              >
                Submit as job
              </button>
            </div>
          </form>
          ${result?.error && errorBox(result.error)}
          ${
            result?.output !== undefined &&
            html`<h2>Output</h2>
              <pre data-testid="output">${JSON.stringify(result.output, null, 2)}</pre>`
          }
        </section>`
      }
    </div>
  `;
}
