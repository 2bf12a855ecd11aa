/// <reference lib="dom" />
/**
 * The viewer page (a browser ES module). It loads the precomputed files from `/data/` (see src/viewer/schema.ts)
 * and draws: the top ± eigenvectors of Γ for the chosen checkpoint and class with their eigenvalues, β for that
 * class, the eigenvalue spectrum, training curves with the checkpoint marked, the SVD attack (a slider over k
 * with the three accuracies and the attacked test digits) and the logit decomposition of the chosen digit.
 *
 * Every render ends by writing the state it shows into `document.body.dataset.view`
 * (`checkpoint=<id>;class=<c>;k=<k>;digit=<j>`), and the first one marks `viewer-ready` in the performance
 * timeline, so that tests and users can tell when what they see is complete.
 */
import type { CheckpointDetail, CheckpointSummary, CurveChart, DigitResult, ViewerIndex } from '../schema.js';
import { formatNumber, formatPercent, hexToRgb, imagePixels, projectOut, symmetricScale, type Rgb } from './format.js';
import { OKABE_ITO, escapeXml, groupedBarsSvg, lineChartSvg, spectrumSvg } from './charts.js';

interface CheckpointData {
  detail: CheckpointDetail;
  blob: Float32Array;
}

interface State {
  checkpoint: number;
  cls: number;
  k: number;
  digit: number;
}

const SERIES_COLORS: Record<string, string> = {
  network: OKABE_ITO.black,
  linear_n01: OKABE_ITO.orange,
  quadratic_n01: OKABE_ITO.blue,
};

const PART_COLORS = {
  constant: OKABE_ITO.grey,
  linear: OKABE_ITO.orange,
  quadratic: OKABE_ITO.skyBlue,
  approximant: OKABE_ITO.blue,
  network: OKABE_ITO.black,
};

let index: ViewerIndex;
let anchors: Rgb[];
let digitsData: Float32Array | null = null;
const state: State = { checkpoint: 0, cls: 0, k: 0, digit: 0 };
const loaded = new Map<number, Promise<CheckpointData>>();
let renderToken = 0;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no element #${id}`);
  return el;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

async function getJson<T>(url: string): Promise<T> {
  return (await fetchOk(url)).json() as Promise<T>;
}

async function getFloat32(url: string): Promise<Float32Array> {
  return new Float32Array(await (await fetchOk(url)).arrayBuffer());
}

function checkpointData(id: number): Promise<CheckpointData> {
  let p = loaded.get(id);
  if (p === undefined) {
    const s = index.checkpoints[id]!;
    p = Promise.all([getJson<CheckpointDetail>(`/data/${s.detail}`), getFloat32(`/data/${s.blob}`)]).then(([detail, blob]) => ({ detail, blob }));
    p.catch(() => loaded.delete(id));
    loaded.set(id, p);
  }
  return p;
}

const SUBSCRIPTS = '₀₁₂₃₄₅₆₇₈₉';

function subscript(n: number): string {
  return String(n).split('').map((ch) => SUBSCRIPTS[Number(ch)]).join('');
}

/** A canvas showing one image on the shared diverging map. */
function heatmap(values: ArrayLike<number>, scale: number, label: string): HTMLCanvasElement {
  const [h, w] = index.imageShape!;
  const c = el('canvas', { width: String(w), height: String(h), role: 'img', 'aria-label': label });
  const ctx = c.getContext('2d');
  if (ctx !== null) ctx.putImageData(new ImageData(imagePixels(values, scale, anchors), w, h), 0, 0);
  return c;
}

/** A horizontal colour bar from −scale to +scale with its end and middle values. */
function colorbar(scale: number, label: string): HTMLElement {
  const box = el('div', { class: 'colorbar' });
  const n = 256;
  const c = el('canvas', { width: String(n), height: '1', role: 'img', 'aria-label': `${label}: colour scale from ${formatNumber(-scale)} to ${formatNumber(scale)}` });
  const ramp = Array.from({ length: n }, (_, i) => -scale + (2 * scale * i) / (n - 1));
  c.getContext('2d')?.putImageData(new ImageData(imagePixels(ramp, scale, anchors), n, 1), 0, 0);
  const ticks = el('div', { class: 'ticks' });
  ticks.append(el('span', {}, formatNumber(-scale)), el('span', {}, '0'), el('span', {}, formatNumber(scale)));
  box.append(el('span', {}, label), c, ticks);
  return box;
}

function slice(blob: Float32Array, offset: number, length: number): Float32Array {
  return blob.subarray(offset, offset + length);
}

function renderEigen(s: CheckpointSummary, data: CheckpointData): void {
  const body = $('eigen-body');
  body.replaceChildren();
  $('eigen-heading').textContent = `Eigenvectors of Γ for class ${index.classNames[state.cls]} (${s.label})`;
  const d = index.inputDim;
  const eigBox = el('div', { class: 'eig-box' });
  if (s.eigen === null || s.layout.eigenvectors === null) {
    eigBox.append(el('p', { id: 'eigen-missing' }, 'This approximant has degree 1: there is no Γ, so there are no eigenvectors.'));
  } else {
    const e = s.eigen[state.cls]!;
    const top = index.top;
    const vec = (sign: 0 | 1, j: number) => slice(data.blob, s.layout.eigenvectors!.offset + ((state.cls * 2 + sign) * top + j) * d, d);
    const shown: Float32Array[] = [];
    for (let j = 0; j < e.positive.length; j++) shown.push(vec(0, j));
    for (let j = 0; j < e.negative.length; j++) shown.push(vec(1, j));
    const scale = symmetricScale(shown);
    for (const [sign, values, name] of [[0, e.positive, 'pos'], [1, e.negative, 'neg']] as const) {
      const row = el('div', { class: 'eig-row' });
      row.append(el('h3', { class: name }, sign === 0 ? 'largest λ > 0' : 'most negative λ'));
      const panels = el('div', { class: 'panels', id: `eig-${name}` });
      values.forEach((lambda, j) => {
        const caption = `λ${subscript(j + 1)} = ${formatNumber(lambda)}`;
        const fig = el('figure', { class: 'panel' });
        if (index.imageShape !== null) fig.append(heatmap(vec(sign, j), scale, `eigenvector ${j + 1} (${name === 'pos' ? 'positive' : 'negative'}), ${caption}`));
        fig.append(el('figcaption', { id: `lambda-${name}-${j}` }, caption));
        panels.append(fig);
      });
      if (values.length === 0) panels.append(el('p', { class: 'muted' }, sign === 0 ? 'no positive eigenvalues' : 'no negative eigenvalues'));
      row.append(panels);
      eigBox.append(row);
    }
    if (index.imageShape !== null) eigBox.append(colorbar(scale, 'eigenvector component (one scale for the images shown)'));
  }
  body.append(eigBox);
  if (index.imageShape !== null) {
    const side = el('div', { class: 'beta-box' });
    const fig = el('figure', { class: 'panel big' });
    const beta = slice(data.blob, s.layout.beta.offset + state.cls * d, d);
    fig.append(heatmap(beta, s.betaScale, `β for class ${index.classNames[state.cls]}`), el('figcaption', { id: 'beta-caption' }, `β, class ${index.classNames[state.cls]}`));
    side.append(el('h3', {}, 'Linear coefficients β'), fig, colorbar(s.betaScale, 'β component (all classes)'),
      el('p', { class: 'muted explain' }, 'The linear part xᵀβ of the class logit.'));
    body.append(side);
  }
}

function renderSpectrum(s: CheckpointSummary, data: CheckpointData): void {
  const box = $('spectrum-chart');
  const summary = $('spectrum-summary');
  if (s.eigen === null) {
    summary.textContent = 'No Γ (degree-1 approximant).';
    box.replaceChildren();
    return;
  }
  const values = data.detail.spectrum[state.cls] ?? [];
  const e = s.eigen[state.cls]!;
  summary.textContent = `Class ${index.classNames[state.cls]}: ${e.nonzero} nonzero eigenvalues (${e.zeros} zero)` +
    (values.length ? `, from ${formatNumber(values[0]!)} down to ${formatNumber(values[values.length - 1]!)}.` : '.');
  box.innerHTML = spectrumSvg({
    id: 'spectrum', title: `Eigenvalues of Γ, class ${index.classNames[state.cls]}`, width: 520, height: 250, values, top: index.top,
    positiveColor: index.colormap.anchors[9] ?? '#542788', negativeColor: index.colormap.anchors[1] ?? '#b35806',
  });
}

function legendSwatch(color: string, dashed: boolean): string {
  return `<svg width="26" height="10" aria-hidden="true"><line x1="1" x2="25" y1="5" y2="5" stroke="${color}" stroke-width="2.2"${dashed ? ' stroke-dasharray="5 3"' : ''}/></svg>`;
}

function renderCurves(s: CheckpointSummary): void {
  const box = $('curves');
  const legend = $('curves-legend');
  const curves = index.curves;
  if (curves === null) {
    $('curves-description').textContent = index.checkpoints.length > 1
      ? 'No training curves: no study.json and no test data (run polyapprox study, or pass --data).'
      : 'A single file has no training curves.';
    box.replaceChildren();
    legend.replaceChildren();
    return;
  }
  $('curves-description').textContent = curves.description;
  const seen = new Map<string, { name: string; dashed: boolean }>();
  for (const c of curves.charts) for (const sr of c.series) seen.set(sr.id, { name: sr.name, dashed: sr.dashed });
  legend.innerHTML = [...seen].map(([id, v]) => `<span>${legendSwatch(SERIES_COLORS[id] ?? OKABE_ITO.grey, v.dashed)}${escapeXml(v.name)}</span>`).join('')
    + '<span class="muted">dashed rule: this checkpoint</span>';
  box.innerHTML = curves.charts.map((c: CurveChart) => lineChartSvg({
    id: `curve-${c.id}`, title: c.title, width: 420, height: 220, xLabel: 'training step', yLabel: c.yLabel, logX: true, logY: c.logY,
    ...(c.id === 'accuracy' ? { yDomain: [0, 1] as [number, number] } : {}),
    series: c.series.map((sr) => ({ name: sr.name, points: sr.points, color: SERIES_COLORS[sr.id] ?? OKABE_ITO.grey, dashed: sr.dashed })),
    marker: s.step === null ? null : { x: s.step, label: `step ${s.step}` },
  })).join('');
}

function predictionText(label: number, r: DigitResult): HTMLElement {
  const span = el('span', { class: 'pred' });
  // Class indices, not names: the buttons are narrow.
  const part = (name: string, p: number) => el('span', p === label ? {} : { class: 'wrong' }, `${name} ${p}`);
  span.append(part('N', r.predictions.network), document.createTextNode(' '), part('L', r.predictions.linear), document.createTextNode(' '), part('Q', r.predictions.quadratic));
  return span;
}

function renderAttack(s: CheckpointSummary, data: CheckpointData): void {
  const body = $('attack-body');
  const missing = $('attack-missing');
  if (s.attack === null || index.attack === null) {
    body.hidden = true;
    missing.hidden = false;
    return;
  }
  body.hidden = false;
  missing.hidden = true;
  const kMax = s.attack.length - 1;
  state.k = Math.min(state.k, kMax);
  const step = s.attack[state.k]!;
  $('attack-explain').textContent = `Every test input x is replaced by x − (u₁·x)u₁ − … − (uₖ·x)uₖ: the top-k left singular directions of the linear approximant's β are removed. Scored on ${index.attack.description}.`;
  const input = $('attack-k') as HTMLInputElement;
  input.max = String(kMax);
  input.value = String(state.k);
  input.setAttribute('aria-valuetext', `k = ${state.k}`);
  $('attack-kmax').textContent = String(kMax);
  const sig = s.singularValues.slice(0, kMax).map((v, i) => `σ${subscript(i + 1)} = ${formatNumber(v)}`);
  $('attack-sigmas').textContent = state.k === 0 ? `Singular values of β: ${sig.join(', ')}.`
    : `Removed: ${sig.slice(0, state.k).join(', ')}.${state.k < kMax ? ` Next: ${sig[state.k]}.` : ''}`;
  $('attack-k-value').textContent = `k = ${state.k}`;
  for (const key of ['network', 'linear', 'quadratic'] as const) $(`acc-${key}`).textContent = formatPercent(step.accuracy[key]);
  for (const key of ['linear', 'quadratic'] as const) {
    $(`kl-${key}`).textContent = formatNumber(step.kl[key]);
    $(`fvu-${key}`).textContent = formatNumber(step.fvu[key]);
  }
  const right = $('attack-digits');
  right.replaceChildren();
  const digits = index.digits;
  if (digits === null || digitsData === null || data.detail.digits === null || s.layout.singular === null) return;
  const d = index.inputDim;
  right.append(el('h3', {}, `Test ${index.imageShape === null ? 'samples' : 'digits'} with k = ${state.k} direction${state.k === 1 ? '' : 's'} removed`),
    el('p', { class: 'muted explain' }, 'Under each: the class predicted by the network (N), the linear (L) and the quadratic (Q) approximant; wrong ones in orange. Click a digit for its logits.'));
  const box = el('div', { class: 'digits', id: 'digits', role: 'group', 'aria-label': 'test digits' });
  // One column per class, so that each row holds one example of every class.
  box.style.gridTemplateColumns = `repeat(${Math.min(index.outputDim, digits.count)}, minmax(0, 1fr))`;
  const U = slice(data.blob, s.layout.singular.offset, s.layout.singular.length);
  const originals = Array.from({ length: digits.count }, (_, j) => digitsData!.subarray(j * d, (j + 1) * d));
  // One scale for every k (the originals'), so that what the attack removes shows as fading.
  const scaleImg = symmetricScale(originals);
  const results = data.detail.digits[state.k]!;
  originals.forEach((x, j) => {
    const r = results[j]!;
    const lab = digits.labels[j]!;
    const b = el('button', {
      type: 'button', class: 'digit', id: `digit-${j}`, 'aria-pressed': String(j === state.digit),
      'aria-label': `test image ${digits.indices[j]}, class ${index.classNames[lab]}: network ${index.classNames[r.predictions.network]}, linear ${index.classNames[r.predictions.linear]}, quadratic ${index.classNames[r.predictions.quadratic]}`,
    });
    if (index.imageShape !== null) {
      const cv = heatmap(projectOut(x, U, d, state.k), scaleImg, '');
      cv.setAttribute('aria-hidden', 'true');
      cv.removeAttribute('role');
      cv.removeAttribute('aria-label');
      b.append(cv);
    } else {
      // Inputs that are not images: the button names the sample instead.
      b.append(el('span', { class: 'sample' }, `#${digits.indices[j]} (${index.classNames[lab]})`));
    }
    b.append(predictionText(lab, r));
    b.addEventListener('click', () => {
      state.digit = j;
      void render().catch(showError);
    });
    box.append(b);
  });
  right.append(box);
  if (index.imageShape !== null) right.append(colorbar(scaleImg, 'pixel value (as the network sees it)'));
}

function renderLogits(s: CheckpointSummary, data: CheckpointData): void {
  const body = $('logits-body');
  body.replaceChildren();
  const digits = index.digits;
  if (digits === null || data.detail.digits === null || s.attack === null) {
    body.append(el('p', { class: 'muted' }, 'No test digits (they need the network and test data).'));
    return;
  }
  state.digit = Math.min(state.digit, digits.count - 1);
  const j = state.digit;
  const r = data.detail.digits[state.k]![j]!;
  const lab = digits.labels[j]!;
  const alpha = data.detail.alpha;
  body.append(el('p', { id: 'logits-title' }, `Test image ${digits.indices[j]} (class ${index.classNames[lab]}) with k = ${state.k} directions removed, ${s.label}: `
    + `the quadratic approximant's logit = constant α + linear xᵀβ + quadratic xᵀΓx, next to the network's logit.`));
  const grid = el('div', { class: 'logits-grid' });
  const chart = el('div', { class: 'chart-box', id: 'logits-chart' });
  chart.innerHTML = groupedBarsSvg({
    id: 'logit-bars', title: 'Logits by class', width: 640, height: 260, categories: index.classNames.map((n) => (n.length > 8 ? `${n.slice(0, 7)}…` : n)),
    highlight: lab, yLabel: 'logit',
    groups: [
      { name: 'constant α', values: alpha, color: PART_COLORS.constant },
      { name: 'linear xᵀβ', values: r.linear, color: PART_COLORS.linear },
      { name: 'quadratic xᵀΓx', values: r.quadratic, color: PART_COLORS.quadratic },
      { name: 'approximant (sum)', values: r.approximant, color: PART_COLORS.approximant },
      { name: 'network', values: r.network, color: PART_COLORS.network },
    ],
  });
  const legend = el('div', { class: 'legend' });
  legend.innerHTML = ([['constant α', PART_COLORS.constant], ['linear xᵀβ', PART_COLORS.linear], ['quadratic xᵀΓx', PART_COLORS.quadratic], ['approximant = sum', PART_COLORS.approximant], ['network', PART_COLORS.network]] as const)
    .map(([n, c]) => `<span><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${c}"/></svg>${escapeXml(n)}</span>`).join('');
  const left = el('div');
  left.append(legend, chart);
  const table = el('table', { id: 'logits-table' });
  table.innerHTML = '<thead><tr><th scope="col">class</th><th scope="col">constant</th><th scope="col">linear</th><th scope="col">quadratic</th><th scope="col">sum</th><th scope="col">network</th></tr></thead>';
  const tb = el('tbody');
  const argApprox = r.predictions.quadratic;
  const argNet = r.predictions.network;
  index.classNames.forEach((name, c) => {
    const tr = el('tr', { id: `logit-row-${c}`, ...(c === lab ? { class: 'true-class' } : {}) });
    tr.append(el('th', { scope: 'row' }, c === lab ? `${name} (true)` : name));
    tr.append(el('td', { class: 'constant' }, formatNumber(alpha[c]!)));
    tr.append(el('td', { class: 'linear' }, formatNumber(r.linear[c]!)));
    tr.append(el('td', { class: 'quadratic' }, formatNumber(r.quadratic[c]!)));
    tr.append(el('td', { class: `sum${c === argApprox ? ' argmax' : ''}` }, formatNumber(r.approximant[c]!)));
    tr.append(el('td', { class: `network${c === argNet ? ' argmax' : ''}` }, formatNumber(r.network[c]!)));
    tb.append(tr);
  });
  table.append(tb);
  const caption = el('caption', { class: 'muted' }, 'bold: the largest logit (the prediction)');
  table.prepend(caption);
  grid.append(left, table);
  body.append(grid);
}

function viewKey(): string {
  return `checkpoint=${state.checkpoint};class=${state.cls};k=${state.k};digit=${state.digit}`;
}

function writeHash(): void {
  const h = `#checkpoint=${state.checkpoint}&class=${state.cls}&k=${state.k}&digit=${state.digit}`;
  if (location.hash !== h) history.replaceState(null, '', h);
}

function readHash(): void {
  const p = new URLSearchParams(location.hash.slice(1));
  const int = (name: string, max: number, fallback: number): number => {
    const v = Number(p.get(name));
    return p.has(name) && Number.isInteger(v) && v >= 0 && v <= max ? v : fallback;
  };
  state.checkpoint = int('checkpoint', index.checkpoints.length - 1, index.checkpoints.length - 1);
  state.cls = int('class', index.outputDim - 1, 0);
  state.k = int('k', 1000, 0);
  state.digit = int('digit', Math.max(0, (index.digits?.count ?? 1) - 1), 0);
}

/** Draws everything for the current state (stale renders, overtaken by a newer one, draw nothing). */
async function render(): Promise<void> {
  const token = ++renderToken;
  document.body.dataset.state = 'loading';
  const data = await checkpointData(state.checkpoint);
  if (token !== renderToken) return;
  const s = index.checkpoints[state.checkpoint]!;
  ($('checkpoint') as HTMLSelectElement).value = String(state.checkpoint);
  ($('class') as HTMLSelectElement).value = String(state.cls);
  const focusedId = document.activeElement?.id ?? '';
  renderEigen(s, data);
  renderSpectrum(s, data);
  renderCurves(s);
  renderAttack(s, data);
  renderLogits(s, data);
  // The slider and digit buttons are rebuilt: give focus back to the control the user was operating.
  if (focusedId !== '' && document.activeElement === document.body) document.getElementById(focusedId)?.focus();
  writeHash();
  document.body.dataset.view = viewKey();
  document.body.dataset.state = 'ready';
  // Prefetch the neighbouring checkpoints, so stepping through them is immediate.
  for (const n of [state.checkpoint - 1, state.checkpoint + 1]) if (n >= 0 && n < index.checkpoints.length) void checkpointData(n).catch(() => undefined);
}

function showError(e: unknown): void {
  const box = $('error');
  box.hidden = false;
  box.textContent = `The viewer could not load its data: ${e instanceof Error ? e.message : String(e)}`;
  document.body.dataset.state = 'error';
}

function setupControls(): void {
  const slider = $('attack-k') as HTMLInputElement;
  slider.addEventListener('input', () => {
    state.k = Number(slider.value);
    void render().catch(showError);
  });
  const ck = $('checkpoint') as HTMLSelectElement;
  ck.replaceChildren(...index.checkpoints.map((c) => el('option', { value: String(c.id) }, c.label)));
  ck.disabled = index.checkpoints.length < 2;
  ck.addEventListener('change', () => {
    state.checkpoint = Number(ck.value);
    void render().catch(showError);
  });
  const cl = $('class') as HTMLSelectElement;
  cl.replaceChildren(...index.classNames.map((n, c) => el('option', { value: String(c) }, n === String(c) ? n : `${c}: ${n}`)));
  cl.addEventListener('change', () => {
    state.cls = Number(cl.value);
    void render().catch(showError);
  });
  $('source').textContent = `${index.title} · ${index.source.path}`;
  document.title = `polyapprox viewer — ${index.title}`;
  const notes = $('notes');
  notes.replaceChildren(...index.notes.map((n) => el('li', {}, n)),
    el('li', {}, `Colour map: ${index.colormap.name}, centred at 0 (orange negative, purple positive).`));
}

async function main(): Promise<void> {
  try {
    index = await getJson<ViewerIndex>('/data/index.json');
    anchors = index.colormap.anchors.map(hexToRgb);
    readHash();
    const digits = index.digits === null ? Promise.resolve(null) : getFloat32(`/data/${index.digits.file}`);
    void checkpointData(state.checkpoint);
    digitsData = await digits;
    setupControls();
    // A hash typed or pasted into the address bar (or history navigation) selects what it names.
    window.addEventListener('hashchange', () => {
      readHash();
      void render().catch(showError);
    });
    await render();
    performance.mark('viewer-ready');
  } catch (e) {
    showError(e);
  }
}

void main();
