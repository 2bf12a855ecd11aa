/**
 * The static parts of the viewer page: the HTML shell, the style sheet, and the browser modules compiled from
 * `page/*.ts`. In a build (`dist/`) the modules are the JavaScript tsc emitted next to this file; when running
 * from the TypeScript sources (tests, `tsx`), each module is transpiled on first request with the TypeScript
 * compiler (a development dependency, present whenever the sources are).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors.js';

/** The browser modules the server may serve, by name (`/page/<name>.js`). */
export const PAGE_MODULES: readonly string[] = Object.freeze(['app', 'format', 'charts']);

const here = fileURLToPath(import.meta.url);
const pageDir = join(dirname(here), 'page');
const fromSources = here.endsWith('.ts');
const moduleCache = new Map<string, Promise<string>>();

async function transpile(path: string): Promise<string> {
  const source = await readFile(path, 'utf8');
  let ts: typeof import('typescript');
  try {
    ts = (await import('typescript')).default;
  } catch {
    throw new InvalidArgumentError('the viewer runs from its TypeScript sources but the typescript package is not installed; run npm run build and use dist/');
  }
  return ts.transpileModule(source, {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, sourceMap: false },
  }).outputText;
}

/**
 * The JavaScript of one page module.
 *
 * @param name one of {@link PAGE_MODULES}
 * @throws InvalidArgumentError for another name
 */
export function pageModule(name: string): Promise<string> {
  if (!PAGE_MODULES.includes(name)) throw new InvalidArgumentError(`"${name}" is not a page module (${PAGE_MODULES.join(', ')})`);
  let p = moduleCache.get(name);
  if (p === undefined) {
    p = fromSources ? transpile(join(pageDir, `${name}.ts`)) : readFile(join(pageDir, `${name}.js`), 'utf8');
    // A failed read is not cached, so a later request can succeed once the file is there.
    p.catch(() => moduleCache.delete(name));
    moduleCache.set(name, p);
  }
  return p;
}

/** The page's HTML shell; the module fills it in. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>polyapprox viewer</title>
<link rel="stylesheet" href="/app.css">
<script type="module" src="/page/app.js"></script>
</head>
<body data-state="loading">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <div class="brand"><h1>polyapprox viewer</h1><p id="source" class="muted"></p></div>
  <nav class="controls" aria-label="What to show">
    <div class="control"><label for="checkpoint">Checkpoint</label><select id="checkpoint"></select></div>
    <div class="control"><label for="class">Class</label><select id="class"></select></div>
  </nav>
</header>
<div id="error" role="alert" hidden></div>
<main id="main">
  <section class="card" id="eigen-card" aria-labelledby="eigen-heading">
    <h2 id="eigen-heading">Eigenvectors of Γ</h2>
    <p class="muted explain">The quadratic part of the class logit is xᵀΓx = Σ λᵢ (vᵢ·x)²: inputs resembling a
      <span class="pos-swatch">positive-λ</span> eigenvector raise it, those resembling a <span class="neg-swatch">negative-λ</span> one lower it.</p>
    <div id="eigen-body" class="eigen-layout"></div>
  </section>
  <section class="card" id="spectrum-card" aria-labelledby="spectrum-heading">
    <h2 id="spectrum-heading">Spectrum of Γ</h2>
    <p id="spectrum-summary" class="muted"></p>
    <div id="spectrum-chart" class="chart-box"></div>
  </section>
  <section class="card wide" id="curves-card" aria-labelledby="curves-heading">
    <h2 id="curves-heading">Over training</h2>
    <p id="curves-description" class="muted"></p>
    <div id="curves-legend" class="legend"></div>
    <div id="curves" class="curves"></div>
  </section>
  <section class="card wide" id="attack-card" aria-labelledby="attack-heading">
    <h2 id="attack-heading">SVD attack</h2>
    <p id="attack-missing" class="muted" hidden>No attack: it needs the network and test data (a single approximant file needs --model; other inputs may need --data).</p>
    <div id="attack-body" class="attack-grid">
      <div class="slider">
        <p id="attack-explain" class="muted explain"></p>
        <label for="attack-k">Directions removed (k)</label>
        <input type="range" id="attack-k" min="0" max="0" step="1" value="0" aria-describedby="attack-k-value">
        <div class="scale" aria-hidden="true"><span>0</span><span id="attack-kmax"></span></div>
        <output id="attack-k-value" for="attack-k">k = 0</output>
        <p id="attack-sigmas" class="muted explain"></p>
        <table class="acc">
          <caption class="muted">scores at this k</caption>
          <thead><tr><th scope="col">model</th><th scope="col">accuracy</th><th scope="col">KL</th><th scope="col">FVU</th></tr></thead>
          <tbody>
            <tr><th scope="row">network</th><td id="acc-network" class="big"></td><td>—</td><td>—</td></tr>
            <tr><th scope="row">linear</th><td id="acc-linear" class="big"></td><td id="kl-linear"></td><td id="fvu-linear"></td></tr>
            <tr><th scope="row">quadratic</th><td id="acc-quadratic" class="big"></td><td id="kl-quadratic"></td><td id="fvu-quadratic"></td></tr>
          </tbody>
        </table>
      </div>
      <div id="attack-digits"></div>
    </div>
  </section>
  <section class="card wide" id="logits-card" aria-labelledby="logits-heading">
    <h2 id="logits-heading">Logit decomposition</h2>
    <div id="logits-body"></div>
  </section>
</main>
<footer><ul id="notes" class="muted"></ul></footer>
</body>
</html>
`;

/** The page's style sheet. */
export const PAGE_CSS = `:root {
  --bg: #f4f5f7; --card: #ffffff; --ink: #1b2130; --muted: #5b6475; --line: #d9dde4; --focus: #0072B2;
  --pos: #542788; --neg: #b35806; --accent: #0072B2;
  font-family: system-ui, "DejaVu Sans", "Segoe UI", Roboto, sans-serif; font-size: 15px; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
h1 { font-size: 1.25rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 0 0 0.4rem; }
h3 { font-size: 0.9rem; margin: 0.6rem 0 0.3rem; font-weight: 600; }
.muted { color: var(--muted); }
.explain { font-size: 0.85rem; margin: 0 0 0.4rem; max-width: 60rem; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: 0.4rem 0.8rem; }
.skip:focus { left: 0.5rem; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.8rem 2rem;
  padding: 0.7rem 1.2rem; background: var(--card); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 5; }
.brand p { margin: 0.15rem 0 0; font-size: 0.82rem; }
.controls { display: flex; gap: 1.2rem; flex-wrap: wrap; }
.control { display: flex; align-items: center; gap: 0.45rem; }
.control label { font-weight: 600; }
select, input[type=range], button { font: inherit; }
select { padding: 0.3rem 0.5rem; border: 1px solid #8a93a3; border-radius: 6px; background: #fff; color: var(--ink); min-width: 9rem; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
#error { margin: 1rem 1.2rem 0; padding: 0.7rem 1rem; border: 1px solid #d55e00; background: #fff3ec; border-radius: 8px; }
main { display: grid; grid-template-columns: minmax(0, 1.35fr) minmax(0, 1fr); gap: 1rem; padding: 1rem 1.2rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 0.9rem 1rem 1rem; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.panels { display: flex; flex-wrap: wrap; gap: 0.6rem; }
figure.panel { margin: 0; display: flex; flex-direction: column; align-items: center; gap: 0.25rem; }
figure.panel canvas { width: 100px; height: 100px; image-rendering: pixelated; border: 1px solid var(--line); border-radius: 4px; }
figure.panel.big canvas { width: 132px; height: 132px; }
figcaption { font-size: 0.82rem; font-variant-numeric: tabular-nums; white-space: nowrap; }
.eig-row { display: flex; align-items: flex-start; gap: 0.8rem; }
.eig-row h3 { width: 4.6rem; flex: none; margin-top: 2.3rem; }
.eig-row h3.pos { color: var(--pos); }
.eig-row h3.neg { color: var(--neg); }
.pos-swatch { color: var(--pos); font-weight: 600; }
.neg-swatch { color: var(--neg); font-weight: 600; }
.eigen-layout { display: flex; flex-wrap: wrap; gap: 1rem 1.2rem; align-items: flex-start; }
.eig-box { display: flex; flex-direction: column; gap: 0.35rem; }
.beta-box { display: flex; flex-direction: column; gap: 0.4rem; padding-left: 1.2rem; border-left: 1px solid var(--line); max-width: 13.2rem; }
.beta-box h3 { margin-top: 0; }
.colorbar { display: flex; flex-direction: column; gap: 0.15rem; font-size: 0.75rem; color: var(--muted); }
.colorbar canvas { width: 200px; height: 12px; border: 1px solid var(--line); image-rendering: auto; }
.colorbar .ticks { display: flex; justify-content: space-between; width: 200px; font-variant-numeric: tabular-nums; }
.chart { display: block; max-width: 100%; height: auto; }
.chart .chart-title { font-size: 12px; font-weight: 600; fill: var(--ink); }
.chart .tick { font-size: 10px; fill: var(--muted); }
.chart .tick-strong { font-weight: 700; fill: var(--ink); }
.chart .axis-label { font-size: 10.5px; fill: var(--muted); }
.chart .grid { stroke: #eceef2; stroke-width: 1; }
.chart .axis { stroke: #9aa2b1; stroke-width: 1; }
.chart .zero { stroke: #6b7384; stroke-width: 1; }
.chart .marker { stroke: #1b2130; stroke-width: 1.2; stroke-dasharray: 3 3; }
.chart .marker-label { font-size: 10px; fill: var(--ink); font-weight: 600; }
.chart .highlight { fill: #eef4fa; }
.curves { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 0.4rem 1.2rem; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; font-size: 0.82rem; margin: 0.3rem 0; }
.legend span { display: inline-flex; align-items: center; gap: 0.35rem; }
.legend svg { flex: none; }
.attack-grid { display: grid; grid-template-columns: 23rem minmax(0, 1fr); gap: 1.2rem; align-items: start; }
.slider { display: flex; flex-direction: column; gap: 0.35rem; }
.slider label { font-weight: 600; }
.slider input[type=range] { width: 100%; accent-color: var(--accent); }
.slider output { font-variant-numeric: tabular-nums; font-weight: 600; }
.scale { display: flex; justify-content: space-between; font-size: 0.75rem; color: var(--muted); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.22rem 0.55rem; text-align: right; border-bottom: 1px solid #eceef2; }
thead th { font-size: 0.8rem; color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line); }
th[scope=row] { text-align: left; }
table.acc { margin-top: 0.5rem; width: 100%; }
table.acc td.big { font-size: 1.05rem; font-weight: 700; white-space: nowrap; }
table.acc td, table.acc th { padding: 0.3rem 0.45rem; }
.digits { display: grid; grid-template-columns: repeat(auto-fill, minmax(70px, 1fr)); gap: 0.45rem; margin-bottom: 0.5rem; }
button.digit { display: flex; flex-direction: column; align-items: center; gap: 0.15rem; padding: 0.3rem 0.2rem 0.25rem; border: 1px solid var(--line);
  border-radius: 8px; background: #fff; cursor: pointer; color: var(--ink); }
button.digit:hover { border-color: #8a93a3; }
button.digit[aria-pressed=true] { border: 2px solid var(--accent); background: #eef4fa; }
button.digit canvas { width: 56px; height: 56px; image-rendering: pixelated; }
button.digit .sample { font-size: 0.78rem; }
button.digit .pred { font-size: 0.72rem; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pred .wrong { color: #b35806; font-weight: 700; }
.logits-grid { display: grid; grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr); gap: 1.2rem; align-items: start; }
.logits-grid table td.argmax { font-weight: 700; }
tr.true-class th { color: var(--accent); }
footer { padding: 0 1.2rem 1.5rem; font-size: 0.82rem; }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } .attack-grid, .logits-grid { grid-template-columns: minmax(0, 1fr); } }
`;
