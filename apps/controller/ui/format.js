// Small formatting helpers shared by the pages.
import { html } from './vendor/standalone.module.js';

export function stateBadge(state) {
  return html`<span class=${`state ${state}`} data-state=${state}>${state.replace('_', ' ')}</span>`;
}

/** "3 s ago", "5 min ago", or the date for older times. */
export function ago(iso, now = Date.now()) {
  if (!iso) return '-';
  const ms = now - Date.parse(iso);
  if (ms < 0) return 'in ' + duration(-ms);
  if (ms < 1000) return 'just now';
  if (ms < 86_400_000) return `${duration(ms)} ago`;
  return new Date(iso).toLocaleString();
}

export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** Time left on a certificate, warning below a week. */
export function expiry(iso, now = Date.now()) {
  if (!iso) return html`<span class="muted">unknown</span>`;
  const left = Date.parse(iso) - now;
  const cls = left < 0 ? 'bad' : left < 7 * 86_400_000 ? 'warn' : '';
  return html`<span class=${cls} title=${iso}>${left < 0 ? 'expired' : `in ${duration(left)}`}</span>`;
}

export function time(iso) {
  return iso ? new Date(iso).toLocaleString() : '-';
}

/** A job's input or output: pretty JSON, or the type and size of bytes. */
export function payload(value) {
  if (value === null || value === undefined) return html`<span class="muted">none</span>`;
  if (typeof value === 'object' && 'base64' in value && 'contentType' in value) {
    return html`<span>${value.contentType}, ${value.bytes} bytes</span>`;
  }
  return html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
}

export function errorBox(error) {
  if (!error) return null;
  return html`<div class="error-box" role="alert"><b>${error.code ?? 'ERROR'}</b>: ${error.message}</div>`;
}
