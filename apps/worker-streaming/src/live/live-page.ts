/**
 * The live view of one aggregation: counts of closed windows as bars, newest at the right, from
 * `./<id>/events`. One self-contained page (inline SVG, no library, nothing fetched elsewhere).
 */
export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Crank stream</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.2rem; }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 0.8rem 1rem; max-width: 960px; }
  svg { width: 100%; height: 240px; display: block; }
  .muted { color: #5d6678; font-size: 0.9rem; }
  #state.ended { color: #b7791f; }
</style>
</head>
<body>
<h1>Stream <code id="name"></code> <span id="state" class="muted">connecting...</span></h1>
<div class="card">
  <p class="muted">Events per closed window (all keys), newest at the right.
    Events so far: <b id="events">0</b>; windows: <b id="windows">0</b>; last window: <b id="last">-</b></p>
  <svg id="chart" viewBox="0 0 600 240" preserveAspectRatio="none" role="img" aria-label="events per window" data-points="0"></svg>
</div>
<script>
  const id = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
  document.getElementById('name').textContent = id;
  const points = new Map();
  let windows = 0;
  const SHOW = 60;
  function draw() {
    const shown = [...points.values()].sort((a, b) => a.windowEnd - b.windowEnd).slice(-SHOW);
    const svg = document.getElementById('chart');
    const max = Math.max(1, ...shown.map((p) => p.count));
    const width = 600 / SHOW;
    svg.replaceChildren(
      ...shown.map((p, i) => {
        const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
        const h = (p.count / max) * 230;
        bar.setAttribute('x', String(i * width + 1));
        bar.setAttribute('y', String(240 - h));
        bar.setAttribute('width', String(Math.max(1, width - 2)));
        bar.setAttribute('height', String(h));
        bar.setAttribute('fill', '#2f5bd3');
        const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
        title.textContent = new Date(p.windowEnd).toISOString() + ': ' + p.count + ' events, ' + p.keys + ' keys';
        bar.append(title);
        return bar;
      }),
    );
    svg.dataset.points = String(shown.length);
    document.getElementById('windows').textContent = String(windows);
    const last = shown[shown.length - 1];
    document.getElementById('last').textContent = last ? last.count + ' events, ' + last.keys + ' keys' : '-';
  }
  const source = new EventSource(location.pathname.replace(/\\/$/, '') + '/events');
  const state = document.getElementById('state');
  source.addEventListener('history', (e) => {
    const data = JSON.parse(e.data);
    for (const p of data.points) points.set(p.windowEnd, p);
    document.getElementById('events').textContent = String(data.events);
    state.textContent = 'live';
    draw();
  });
  let closedEvents = 0;
  source.addEventListener('window', (e) => {
    const p = JSON.parse(e.data);
    if (!points.has(p.windowEnd)) windows += 1;
    closedEvents += p.count - (points.get(p.windowEnd)?.count ?? 0);
    points.set(p.windowEnd, p);
    const shown = Number(document.getElementById('events').textContent);
    if (closedEvents > shown) document.getElementById('events').textContent = String(closedEvents);
    draw();
  });
  source.addEventListener('status', (e) => {
    document.getElementById('events').textContent = String(JSON.parse(e.data).events);
  });
  source.addEventListener('end', () => {
    state.textContent = 'ended';
    state.className = 'ended';
    source.close();
  });
  source.onerror = () => { if (state.textContent !== 'ended') state.textContent = 'reconnecting...'; };
</script>
</body>
</html>
`;
