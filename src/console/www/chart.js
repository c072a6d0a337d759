// A small line chart on a <canvas>: a rolling window of samples, a grid
// with a few round labels, the line in the canvas's CSS color.
export class LineChart {
  constructor(canvas, { points = 120, decimals = 0 } = {}) {
    this.canvas = canvas;
    this.points = points;
    this.decimals = decimals;
    this.values = [];
  }

  push(v) {
    this.values.push(v);
    if (this.values.length > this.points) this.values.shift();
    this.canvas.dataset.samples = String(Number(this.canvas.dataset.samples || 0) + 1);
    this.canvas.dataset.last = String(v);
    this.canvas.dataset.max = String(Math.max(...this.values));
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return; // hidden: drawn when shown
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== w * dpr || c.height !== h * dpr) {
      c.width = w * dpr;
      c.height = h * dpr;
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const style = getComputedStyle(c);
    const ink = style.color;
    const muted = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#888";
    const line = getComputedStyle(document.documentElement).getPropertyValue("--line").trim() || "#ddd";
    const left = 44, right = 8, top = 8, bottom = 18;
    const pw = w - left - right, ph = h - top - bottom;
    const max = niceMax(Math.max(this.decimals ? 1 : 4, ...this.values));
    g.font = "11px system-ui, sans-serif";
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.strokeStyle = line;
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(left, Math.round(y) + 0.5);
      g.lineTo(w - right, Math.round(y) + 0.5);
      g.stroke();
      g.fillStyle = muted;
      g.fillText(fmt((max * i) / 4, this.decimals), left - 6, y);
    }
    g.textAlign = "left";
    g.fillText(`last ${this.points}s`, left, h - 6);
    if (this.values.length < 2) return;
    const step = pw / (this.points - 1);
    const x0 = left + pw - step * (this.values.length - 1);
    const yOf = (v) => top + ph - (ph * v) / max;
    g.beginPath();
    this.values.forEach((v, i) => (i ? g.lineTo(x0 + i * step, yOf(v)) : g.moveTo(x0, yOf(v))));
    g.strokeStyle = ink;
    g.lineWidth = 2;
    g.lineJoin = "round";
    g.stroke();
    g.lineTo(x0 + (this.values.length - 1) * step, top + ph);
    g.lineTo(x0, top + ph);
    g.closePath();
    g.globalAlpha = 0.12;
    g.fillStyle = ink;
    g.fill();
    g.globalAlpha = 1;
  }
}

// 1, 2, 5 x 10^n at or above v.
function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v, decimals) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e4) return (v / 1e3).toFixed(0) + "k";
  return v.toFixed(v < 10 && decimals ? decimals : 0);
}
