// A small inline SVG line chart of frustration (0..1) per customer turn, with a text alternative.

const NS = "http://www.w3.org/2000/svg";
const W = 240;
const H = 84;
const PAD = { left: 26, right: 8, top: 8, bottom: 18 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function trendChart(values, trend) {
  const points = values.map((v) => Math.min(1, Math.max(0, Number(v) || 0)));
  const described = points.map((v) => v.toFixed(2)).join(", ");
  const label = points.length
    ? `Frustration by customer turn, 0 to 1: ${described}. Trend: ${trend || "steady"}.`
    : "No sentiment history yet.";
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  svg.append(el("title", {}, label));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH * (1 - v);
  const x = (i) => PAD.left + (points.length < 2 ? plotW / 2 : (plotW * i) / (points.length - 1));

  for (const v of [0, 0.5, 1]) {
    svg.append(el("line", { class: v === 0 ? "axis" : "grid", x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    svg.append(el("text", { x: PAD.left - 4, y: y(v) + 3, "text-anchor": "end" }, v.toFixed(1)));
  }
  if (!points.length) return svg;

  const coords = points.map((v, i) => [x(i), y(v)]);
  const line = coords.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
  if (coords.length > 1) {
    const area = `${line} L${coords.at(-1)[0].toFixed(1)},${y(0)} L${coords[0][0].toFixed(1)},${y(0)} Z`;
    svg.append(el("path", { class: "area", d: area }));
    svg.append(el("path", { class: "line", d: line }));
  }
  coords.forEach(([px, py]) => svg.append(el("circle", { class: "dot", cx: px, cy: py, r: 3 })));
  svg.append(el("text", { x: PAD.left, y: H - 4 }, "turn 1"));
  if (coords.length > 1) {
    svg.append(el("text", { x: W - PAD.right, y: H - 4, "text-anchor": "end" }, `turn ${coords.length}`));
  }
  return svg;
}
