// A small line plot of one series of values over time, drawn as SVG with DOM
// APIs (createElementNS + setAttribute: the CSP forbids inline styles, and
// no plotting library is needed for this). Colours come from app.css.

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 260;
const H = 90;
const PAD = 8;

function node(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// points: [{t: ms since epoch, v: number}] sorted by t (at least one).
// label: the accessible description of the whole plot (role img).
// Returns an <svg> element scaled to fit the points' ranges.
export function linePlot(points, label) {
  const svg = node('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label, class: 'plot' });
  const t0 = points[0].t;
  const t1 = points[points.length - 1].t;
  let lo = Math.min(...points.map((p) => p.v));
  let hi = Math.max(...points.map((p) => p.v));
  if (hi === lo) { lo -= 1; hi += 1; }
  const x = (tm) => (t1 === t0 ? W / 2 : PAD + ((tm - t0) / (t1 - t0)) * (W - 2 * PAD));
  const y = (v) => H - PAD - ((v - lo) / (hi - lo)) * (H - 2 * PAD);
  svg.append(node('rect', { x: 0, y: 0, width: W, height: H, class: 'plot-back' }));
  svg.append(node('polyline', {
    points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '),
    class: 'plot-line',
  }));
  for (const p of points) svg.append(node('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5, class: 'plot-dot' }));
  // The highest and lowest values, at the top and bottom of the left edge
  // (hidden from assistive technology: the label says it all).
  const values = points.map((p) => p.v);
  const max = Math.max(...values);
  const min = Math.min(...values);
  for (const [v, yy] of max === min ? [[max, H / 2 + 4]] : [[max, PAD + 8], [min, H - PAD]]) {
    const text = node('text', { x: PAD, y: yy, class: 'plot-label', 'aria-hidden': 'true' });
    text.textContent = String(v);
    svg.append(text);
  }
  return svg;
}
