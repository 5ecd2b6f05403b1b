// Drives the wasm module: trains in chunks of steps, and after each chunk awaits the losses and
// 1,000 samples and draws them. `?steps=N` stops after N steps (default: 5,000), then runs the
// GPU-vs-CPU check of one step; `?test=1` also reports the run to the server it came from (the
// headless-Chromium test, scripts/web.sh). The page's state ends in document.body.dataset.done.
import init, { Trainer, verify } from './pkg/wgpu_gan_web.js';

const params = new URLSearchParams(location.search);
const total = Number(params.get('steps') ?? 5000);
const chunk = Number(params.get('chunk') ?? 25);
const kernels = params.get('kernels') ?? 'direct';
const $ = (id) => document.getElementById(id);
const canvas = $('plot');
const ctx = canvas.getContext('2d');
let extent = 1.6; // the plot spans [-extent, extent]² (the trainer says how much)
const px = (v) => (v + extent) / (2 * extent) * canvas.width;
const py = (v) => (extent - v) / (2 * extent) * canvas.height;

function draw(points, centres) {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const sigma = centres[centres.length - 1];
  ctx.strokeStyle = '#999';
  for (let i = 0; i + 1 < centres.length - 1; i += 2) {
    ctx.beginPath();
    ctx.arc(px(centres[i]), py(centres[i + 1]), Math.max(4, 3 * sigma / (2 * extent) * canvas.width), 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.fillStyle = 'rgba(30, 90, 200, 0.55)';
  for (let i = 0; i < points.length; i += 2) {
    ctx.fillRect(px(points[i]) - 1.5, py(points[i + 1]) - 1.5, 3, 3);
  }
}

const fmt = (v) => v.toFixed(3);

async function run() {
  await init();
  const trainer = await Trainer.create(256, total, 1000, kernels);
  $('adapter').textContent = trainer.adapter();
  const centres = trainer.centres();
  extent = trainer.extent();
  const t0 = performance.now();
  let losses = null, points = null;
  while (trainer.steps_done() < total) {
    trainer.train(Math.min(chunk, total - trainer.steps_done()));
    losses = await trainer.losses();
    points = await trainer.sample(1000);
    draw(points, centres);
    const steps = trainer.steps_done();
    $('steps').textContent = `${steps} / ${total}`;
    $('rate').textContent = (steps / ((performance.now() - t0) / 1000)).toFixed(1);
    $('losses').textContent = `${fmt(losses[0])}, ${fmt(losses[1])}`;
    $('scores').textContent = `${fmt(losses[2])}, ${fmt(losses[3])}`;
    const m = trainer.coverage(points);
    $('modes').textContent = `${m[0]} of 8 (${m[1]} with ≥ 1 %), ${m[2].toFixed(1)} % within 3σ`;
  }
  const seconds = (performance.now() - t0) / 1000;
  $('verify').textContent = 'running…';
  const v = await verify(64, 1, kernels);
  $('verify').textContent = `max rel err ${v[0].toExponential(2)} (losses, gradients; within 1e-4: ${v[0] <= 1e-4 ? 'yes' : 'NO'})`;
  return {
    adapter: trainer.adapter(),
    steps: trainer.steps_done(),
    seconds,
    losses: Array.from(losses),
    coverage: Array.from(trainer.coverage(points)),
    verify: Array.from(v),
    png: canvas.toDataURL('image/png'),
  };
}

async function report(body) {
  if (params.get('test') === '1') {
    await fetch('/result', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  }
  document.body.dataset.done = body.error ? 'error' : 'ok';
}

run().then(report, (e) => {
  const msg = String(e && e.stack ? e.stack : e);
  $('error').textContent = msg;
  return report({ error: msg });
});
