/// The live page: plain HTML, CSS and a little JavaScript. It reads `/state.json` when it loads,
/// then follows `/events` (server-sent events), unless the address ends in `?once` (a snapshot:
/// what a headless browser or a script captures). Every number arrives formatted by the station.
enum LivePage {
    static let html = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>qbench live</title>
    <style>
    body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
    h1 { font-size: 1.3em; margin: 0 0 .3em; }
    table { border-collapse: collapse; margin: .5em 0 1em; }
    td, th { padding: .15em .8em .15em 0; text-align: left; vertical-align: top; }
    th { font-weight: 600; color: #555; }
    .num { font-variant-numeric: tabular-nums; }
    .certified { color: #176117; } .abort { color: #b00020; font-weight: 700; } .continue { color: #555; }
    #journal { font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; background: #f6f6f6; padding: .6em; max-height: 18em; overflow: auto; }
    .note { font-size: .7em; font-weight: 400; color: #666; }
    svg { background: #fafafa; border: 1px solid #ddd; }
    </style></head>
    <body>
    <h1>qbench <span id="station">—</span> station · run <span id="run-id">—</span></h1>
    <div>bench <b id="bench">—</b> · state <b id="state">—</b> · budget <span id="budget" class="num">—</span> bit/mode</div>
    <table>
    <tr><th>images</th><td class="num"><span id="images-done">0</span> / <span id="images">0</span></td>
        <th>modes measured</th><td class="num" id="modes">0</td><th>modes/s</th><td class="num" id="modes-per-second">—</td></tr>
    <tr><th>block</th><td class="num" id="block">—</td><th>decision</th><td id="decision">—</td></tr>
    <tr><th>T̂</th><td class="num" id="transmittance">—</td><th>ε̂ (SNU)</th><td class="num"><span id="excess-noise">—</span> ≤ <span id="excess-noise-upper">—</span></td></tr>
    <tr><th>I_w (bit/mode)</th><td class="num"><span id="weight-leakage">—</span> ≤ <span id="weight-leakage-upper">—</span></td>
        <th id="accuracy-label" hidden>accuracy (this client's)</th><td class="num" id="accuracy" hidden></td></tr>
    </table>
    <svg id="plot" width="640" height="240" viewBox="0 0 640 240" aria-label="I_w bound and estimate against modes measured"></svg>
    <h2>Devices <span class="note">(read <span id="devices-read">—</span>)</span></h2><table id="devices"><tr><th>role</th><th>identity</th><th>state</th></tr></table>
    <h2>Journal (latest)</h2><div id="journal"></div>
    <script>
    function text(id, v) { const e = document.getElementById(id); if (e) e.textContent = v; }
    function plot(history, budget) {
      const svg = document.getElementById('plot');
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      if (!history.length) return;
      const W = 640, H = 240, L = 56, B = 28, T = 10, R = 10;
      const xs = history.map(p => p.modes), up = history.map(p => +p.weightLeakageUpper), est = history.map(p => +p.weightLeakage);
      const b = +budget, ymax = Math.max(...up, isFinite(b) ? b : 0) * 1.1 || 1, xmax = Math.max(...xs) || 1;
      const X = m => L + (W - L - R) * m / xmax, Y = v => H - B - (H - B - T) * v / ymax;
      const ns = 'http://www.w3.org/2000/svg';
      function line(points, colour, dash) {
        const p = document.createElementNS(ns, 'polyline');
        p.setAttribute('points', points.map(([x, y]) => X(x) + ',' + Y(y)).join(' '));
        p.setAttribute('fill', 'none'); p.setAttribute('stroke', colour); p.setAttribute('stroke-width', '2');
        if (dash) p.setAttribute('stroke-dasharray', '5,4');
        svg.appendChild(p);
      }
      function label(x, y, s, anchor) {
        const t = document.createElementNS(ns, 'text'); t.setAttribute('x', x); t.setAttribute('y', y);
        t.setAttribute('font-size', '11'); t.setAttribute('text-anchor', anchor || 'start'); t.textContent = s; svg.appendChild(t);
      }
      if (isFinite(b)) line([[0, b], [xmax, b]], '#b00020', true);
      line(xs.map((m, i) => [m, up[i]]), '#1f5fa8');
      line(xs.map((m, i) => [m, est[i]]), '#888');
      label(L - 4, Y(ymax / 1.1) + 4, (ymax / 1.1).toPrecision(3), 'end'); label(L - 4, H - B, '0', 'end');
      label(W - R, H - 8, xmax.toExponential(2) + ' modes', 'end');
      label(L + 6, T + 12, 'I_w bound (blue), estimate (grey), budget (red, dashed)');
    }
    function render(s) {
      text('station', s.station); text('run-id', s.runId); text('bench', s.bench); text('state', s.state);
      text('budget', s.budget); text('images-done', s.imagesDone); text('images', s.images);
      text('modes', s.modes); text('modes-per-second', s.modesPerSecond);
      const p = s.latest;
      if (p) {
        text('block', p.block); text('transmittance', p.transmittance); text('excess-noise', p.excessNoise);
        text('excess-noise-upper', p.excessNoiseUpper); text('weight-leakage', p.weightLeakage);
        text('weight-leakage-upper', p.weightLeakageUpper);
        const d = document.getElementById('decision'); d.textContent = p.decision; d.className = p.decision;
        if (p.accuracy) {
          text('accuracy', p.accuracy);
          document.getElementById('accuracy').hidden = false; document.getElementById('accuracy-label').hidden = false;
        }
      }
      const t = document.getElementById('devices');
      while (t.rows.length > 1) t.deleteRow(1);
      for (const dev of s.devices) {
        const r = t.insertRow();
        for (const v of [dev.role, dev.identity, dev.settings]) r.insertCell().textContent = v;
        r.cells[2].id = 'device-' + dev.role.replace(/[^a-z]+/g, '-');
      }
      text('devices-read', s.devicesRead);
      text('journal', s.journal.join('\\n'));
      plot(s.history, s.budget);
    }
    fetch('/state.json').then(r => r.json()).then(s => {
      render(s);
      if (!location.search.includes('once')) {
        const events = new EventSource('/events');
        events.onmessage = e => render(JSON.parse(e.data));
      }
    });
    </script>
    </body></html>
    """
}
