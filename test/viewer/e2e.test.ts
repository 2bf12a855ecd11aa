/**
 * End to end in headless Chromium (Debian's chromium driven by playwright-core): the viewer's server runs in this
 * process on a free loopback port over a synthetic run (2 checkpoints of random 784→16→10 MLPs); the test opens
 * the page, changes class and checkpoint, moves the attack slider with the keyboard, clicks and keys test digits,
 * and checks the numbers and pixels shown against the precomputed files and independent computations
 * (eigenvalues from a dense eigh of Γ_c, canvas pixels from the colour map applied in Node). Screenshots go to
 * test-artifacts/viewer/.
 *
 * Without Chromium or playwright-core the test checks that the failure message says how to install them — and
 * fails instead when POLYAPPROX_REQUIRE_BROWSER=1 (as .ci/run sets it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eigh } from '../../src/linalg/ops.js';
import { fitQuadratic } from '../../src/approx/fit/index.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { precomputeViewer } from '../../src/viewer/precompute.js';
import { startViewerServer } from '../../src/viewer/server.js';
import type { CheckpointDetail, ViewerIndex } from '../../src/viewer/schema.js';
import { formatNumber, formatPercent, hexToRgb, imagePixels, parseDisplayedNumber, projectOut, symmetricScale } from '../../src/viewer/page/format.js';
import { SYN_D, makeSyntheticRun } from './synthetic.js';

/** The playwright-core version known to drive Debian's Chromium on Node 20 here. */
const PLAYWRIGHT_VERSION = '1.64.1';
const CHROMIUM = process.env.POLYAPPROX_CHROMIUM ?? '/usr/bin/chromium';
/** Flags for a sandboxless, offline Chromium (as root, on a machine without network). */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/viewer/', import.meta.url));
const SUB = '₀₁₂₃₄₅₆₇₈₉';

/** The parts of playwright-core's API this test uses (the package is optional at type-check time). */
interface Page {
  goto(url: string): Promise<unknown>;
  waitForSelector(selector: string, opts?: { timeout?: number }): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  getAttribute(selector: string, name: string): Promise<string | null>;
  selectOption(selector: string, value: string): Promise<unknown>;
  click(selector: string): Promise<void>;
  focus(selector: string): Promise<void>;
  keyboard: { press(key: string): Promise<void> };
  screenshot(opts: { path: string; fullPage?: boolean }): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  on(event: 'request', cb: (r: { url(): string }) => void): void;
  on(event: 'pageerror', cb: (e: Error) => void): void;
  on(event: 'console', cb: (m: { type(): string; text(): string }) => void): void;
}
interface Browser {
  newPage(opts: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface Chromium {
  launch(opts: { executablePath: string; args: string[]; headless: boolean }): Promise<Browser>;
}

/** How to get a browser, for the message when there is none. */
function browserInstallHint(reason: string): string {
  return `headless Chromium is not available: ${reason}. Install it with \`apt-get install -y chromium\` (Debian) and ` +
    `\`npm install\` (the development dependency playwright-core@${PLAYWRIGHT_VERSION}; or \`npm install --no-save playwright-core@${PLAYWRIGHT_VERSION}\`), ` +
    'or point POLYAPPROX_CHROMIUM at a Chromium binary';
}

async function findChromium(): Promise<{ chromium: Chromium } | { problem: string }> {
  if (!existsSync(CHROMIUM)) return { problem: browserInstallHint(`${CHROMIUM} does not exist`) };
  const specifier = 'playwright-core';
  try {
    const mod = (await import(specifier)) as { chromium?: Chromium; default?: { chromium: Chromium } };
    const chromium = mod.chromium ?? mod.default?.chromium;
    if (chromium === undefined) return { problem: browserInstallHint('playwright-core has no chromium export') };
    return { chromium };
  } catch (e) {
    return { problem: browserInstallHint(`the npm package playwright-core cannot be imported (${(e as Error).message.split('\n')[0]})`) };
  }
}

function lambdaCaptions(index: ViewerIndex, checkpoint: number, cls: number): string[] {
  const e = index.checkpoints[checkpoint]!.eigen![cls]!;
  return [
    ...e.positive.map((v, j) => `lambda-pos-${j}=λ${SUB[j + 1]} = ${formatNumber(v)}`),
    ...e.negative.map((v, j) => `lambda-neg-${j}=λ${SUB[j + 1]} = ${formatNumber(v)}`),
  ];
}

const CAPTIONS_JS = `Array.from(document.querySelectorAll('#eig-pos figcaption, #eig-neg figcaption')).map((e) => e.id + '=' + e.textContent)`;

function canvasPixelsJs(selector: string): string {
  return `(() => { const c = document.querySelector(${JSON.stringify(selector)}); return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); })()`;
}

test('the viewer page in headless Chromium', async (t) => {
  const found = await findChromium();
  if ('problem' in found) {
    if (process.env.POLYAPPROX_REQUIRE_BROWSER === '1') assert.fail(`POLYAPPROX_REQUIRE_BROWSER=1 but ${found.problem}`);
    // No browser on this machine: the message must tell how to get one.
    assert.match(found.problem, /apt-get install -y chromium/);
    assert.match(found.problem, new RegExp(`playwright-core@${PLAYWRIGHT_VERSION.replace(/\./g, '\\.')}`));
    t.diagnostic(found.problem);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'polyapprox-viewer-e2e-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const run = makeSyntheticRun(join(root, 'run'), { steps: [10, 200], n: 300 });
  const pre = await precomputeViewer({ source: run.dir, data: run.dataFile, top: 4, kMax: 5, digitsPerClass: 2 });
  const index = pre.index;
  const cache = pre.cacheDir;
  const details = index.checkpoints.map((c) => JSON.parse(readFileSync(join(cache, c.detail), 'utf8')) as CheckpointDetail);
  const blobOf = (name: string) => {
    const b = readFileSync(join(cache, name));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const anchors = index.colormap.anchors.map(hexToRgb);
  const server = await startViewerServer({ cacheDir: cache });
  const origin = new URL(server.url).origin;
  const browser = await found.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const requests: string[] = [];
  const errors: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const view = (s: string) => page.waitForSelector(`body[data-state="ready"][data-view="${s}"]`, { timeout: 15000 });

    await t.test('first paint: the last checkpoint, class 0, eigenvalues as precomputed', async () => {
      const paint = async (): Promise<number> => {
        await page.goto('about:blank');
        await page.goto(server.url);
        await view('checkpoint=1;class=0;k=0;digit=0');
        return (await page.evaluate(`performance.getEntriesByName('viewer-ready')[0]?.startTime ?? -1`)) as number;
      };
      // The first load also pays for starting the browser's renderer; the page's own time to a complete first
      // paint (navigation start → every section drawn, all data fetched, no HTTP cache) is the second load's.
      const cold = await paint();
      const warm = await paint();
      t.diagnostic(`first paint: ${cold.toFixed(0)} ms on the browser's first page load, ${warm.toFixed(0)} ms on the next`);
      assert.ok(warm > 0 && warm < 1000, `first paint took ${warm} ms`);
      assert.ok(cold > 0 && cold < 5000, `first paint of a cold browser took ${cold} ms`);
      assert.deepEqual(await page.evaluate(CAPTIONS_JS), lambdaCaptions(index, 1, 0));
      // Independent check of the largest and most negative λ shown: a dense eigh of Γ_0.
      const { values } = eigh(fitQuadratic(run.nets[1]!, Gaussian.standard(SYN_D)).gammaMatrix(0));
      const shownMax = parseDisplayedNumber((await page.textContent('#lambda-pos-0'))!);
      const shownMin = parseDisplayedNumber((await page.textContent('#lambda-neg-0'))!);
      assert.ok(Math.abs(shownMax - values[values.length - 1]!) <= 5e-4 * Math.abs(shownMax), `λmax shown ${shownMax}`);
      assert.ok(Math.abs(shownMin - values[0]!) <= 5e-4 * Math.abs(shownMin), `λmin shown ${shownMin}`);
      assert.equal(await page.textContent('#checkpoint option:checked'), 'step 200');
      assert.match((await page.textContent('#eigen-heading'))!, /class 0 \(step 200\)/);
      // The pixels drawn are the colour map of the stored values: β_0 and the first positive eigenvector.
      const s = index.checkpoints[1]!;
      const blob = blobOf(s.blob);
      const beta0 = blob.subarray(s.layout.beta.offset, s.layout.beta.offset + SYN_D);
      assert.deepEqual(await page.evaluate(canvasPixelsJs('.beta-box canvas')), Array.from(imagePixels(beta0, s.betaScale, anchors)));
      const e = s.eigen![0]!;
      const vecs = [0, 1].flatMap((sign) => Array.from({ length: sign === 0 ? e.positive.length : e.negative.length }, (_, j) => {
        const off = s.layout.eigenvectors!.offset + ((0 * 2 + sign) * index.top + j) * SYN_D;
        return blob.subarray(off, off + SYN_D);
      }));
      assert.deepEqual(await page.evaluate(canvasPixelsJs('#eig-pos canvas')), Array.from(imagePixels(vecs[0]!, symmetricScale(vecs), anchors)));
      assert.equal(await page.evaluate(`document.querySelectorAll('#digits button').length`), index.digits!.count);
      assert.equal(await page.evaluate(`document.querySelectorAll('#curves svg').length`), 3);
      await page.screenshot({ path: join(ARTIFACTS, '01-initial.png'), fullPage: true });
    });

    await t.test('changing the class shows that class\'s eigenvalues and spectrum', async () => {
      await page.selectOption('#class', '3');
      await view('checkpoint=1;class=3;k=0;digit=0');
      const shown = await page.evaluate(CAPTIONS_JS);
      assert.deepEqual(shown, lambdaCaptions(index, 1, 3));
      assert.notDeepEqual(shown, lambdaCaptions(index, 1, 0));
      const spec = details[1]!.spectrum[3]!;
      assert.equal(await page.textContent('#spectrum-summary'),
        `Class 3: 16 nonzero eigenvalues (768 zero), from ${formatNumber(spec[0]!)} down to ${formatNumber(spec[spec.length - 1]!)}.`);
      assert.equal(await page.evaluate(`document.querySelectorAll('#spectrum-chart line[stroke^="#"]').length`), 16);
    });

    await t.test('changing the checkpoint shows its eigenvalues and moves the curves\' marker', async () => {
      await page.selectOption('#checkpoint', '0');
      await view('checkpoint=0;class=3;k=0;digit=0');
      assert.deepEqual(await page.evaluate(CAPTIONS_JS), lambdaCaptions(index, 0, 3));
      const { values } = eigh(fitQuadratic(run.nets[0]!, Gaussian.standard(SYN_D)).gammaMatrix(3));
      const shownMax = parseDisplayedNumber((await page.textContent('#lambda-pos-0'))!);
      assert.ok(Math.abs(shownMax - values[values.length - 1]!) <= 5e-4 * Math.abs(shownMax));
      assert.deepEqual(await page.evaluate(`Array.from(document.querySelectorAll('#curves .marker')).map((m) => m.getAttribute('data-x'))`), ['10', '10', '10']);
      assert.match((await page.textContent('#eigen-heading'))!, /step 10\)/);
      await page.screenshot({ path: join(ARTIFACTS, '02-class3-step10.png'), fullPage: true });
    });

    await t.test('the attack slider (keyboard) shows the accuracies of that k and the attacked digits', async () => {
      const a0 = index.checkpoints[0]!.attack!;
      assert.equal(await page.textContent('#acc-network'), formatPercent(a0[0]!.accuracy.network));
      await page.focus('#attack-k');
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
      await view('checkpoint=0;class=3;k=3;digit=0');
      const step = a0[3]!;
      assert.equal(await page.textContent('#attack-k-value'), 'k = 3');
      assert.equal(await page.textContent('#acc-network'), formatPercent(step.accuracy.network));
      assert.equal(await page.textContent('#acc-linear'), formatPercent(step.accuracy.linear));
      assert.equal(await page.textContent('#acc-quadratic'), formatPercent(step.accuracy.quadratic));
      assert.equal(await page.textContent('#kl-quadratic'), formatNumber(step.kl.quadratic));
      assert.equal(await page.textContent('#fvu-linear'), formatNumber(step.fvu.linear));
      assert.notDeepEqual(step.accuracy, a0[0]!.accuracy, 'the attack changes the accuracies');
      // Digit 1 with the top 3 directions removed, drawn on the originals' shared scale.
      const s = index.checkpoints[0]!;
      const digits = blobOf(index.digits!.file);
      const U = blobOf(s.blob).subarray(s.layout.singular!.offset, s.layout.singular!.offset + s.layout.singular!.length);
      const originals = Array.from({ length: index.digits!.count }, (_, j) => digits.subarray(j * SYN_D, (j + 1) * SYN_D));
      const attacked = projectOut(originals[1]!, U, SYN_D, 3);
      assert.deepEqual(await page.evaluate(canvasPixelsJs('#digit-1 canvas')), Array.from(imagePixels(attacked, symmetricScale(originals), anchors)));
      const r = details[0]!.digits![3]![1]!;
      assert.equal(await page.textContent('#digit-1 .pred'), `N ${r.predictions.network} L ${r.predictions.linear} Q ${r.predictions.quadratic}`);
      assert.equal(await page.evaluate('document.activeElement.id'), 'attack-k', 'focus stays on the slider');
      await page.screenshot({ path: join(ARTIFACTS, '03-attack-k3.png'), fullPage: true });
    });

    await t.test('clicking (and keying) a digit shows its logit decomposition next to the network\'s logits', async () => {
      await page.click('#digit-4');
      await view('checkpoint=0;class=3;k=3;digit=4');
      const check = async (j: number) => {
        const r = details[0]!.digits![3]![j]!;
        const alpha = details[0]!.alpha;
        const rows = (await page.evaluate(`Array.from(document.querySelectorAll('#logits-table tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent))`)) as string[][];
        assert.equal(rows.length, index.outputDim);
        rows.forEach((cells, c) => {
          assert.deepEqual(cells, [alpha[c]!, r.linear[c]!, r.quadratic[c]!, r.approximant[c]!, r.network[c]!].map(formatNumber), `class ${c} of digit ${j}`);
          // The shown parts add up to the shown sum (to display precision).
          const [k0, k1, k2, sum] = cells.slice(0, 4).map(parseDisplayedNumber);
          assert.ok(Math.abs(k0! + k1! + k2! - sum!) <= 2e-3 * (Math.abs(k0!) + Math.abs(k1!) + Math.abs(k2!)), `parts of class ${c} add up`);
        });
        assert.equal(await page.getAttribute(`#digit-${j}`, 'aria-pressed'), 'true');
        assert.match((await page.textContent('#logits-title'))!, new RegExp(`^Test image ${index.digits!.indices[j]} \\(class ${index.digits!.labels[j]}\\) with k = 3`));
      };
      await check(4);
      await page.screenshot({ path: join(ARTIFACTS, '04-logits-digit4.png'), fullPage: true });
      await page.focus('#digit-7');
      await page.keyboard.press('Enter');
      await view('checkpoint=0;class=3;k=3;digit=7');
      await check(7);
      assert.equal(await page.getAttribute('#digit-4', 'aria-pressed'), 'false');
    });

    await t.test('the class menu works from the keyboard; the state is kept in the URL', async () => {
      await page.focus('#class');
      await page.keyboard.press('ArrowDown');
      await view('checkpoint=0;class=4;k=3;digit=7');
      assert.deepEqual(await page.evaluate(CAPTIONS_JS), lambdaCaptions(index, 0, 4));
      assert.equal(await page.evaluate('location.hash'), '#checkpoint=0&class=4&k=3&digit=7');
      // A new hash on the open page …
      await page.goto(`${server.url}#checkpoint=1&class=9&k=5&digit=2`);
      await view('checkpoint=1;class=9;k=5;digit=2');
      assert.deepEqual(await page.evaluate(CAPTIONS_JS), lambdaCaptions(index, 1, 9));
      assert.equal(await page.textContent('#acc-quadratic'), formatPercent(index.checkpoints[1]!.attack![5]!.accuracy.quadratic));
      await page.screenshot({ path: join(ARTIFACTS, '05-class9-k5.png'), fullPage: true });
      // … and a fresh load of a URL with a hash.
      await page.goto('about:blank');
      await page.goto(`${server.url}#checkpoint=0&class=2&k=1&digit=19`);
      await view('checkpoint=0;class=2;k=1;digit=19');
      assert.equal(await page.textContent('#attack-k-value'), 'k = 1');
    });

    await t.test('only the local server was contacted, and the page logged no errors', () => {
      assert.ok(requests.length > 5);
      for (const u of requests) assert.ok(u.startsWith(`${origin}/`) || u === 'about:blank', `request to ${u}`);
      assert.deepEqual(errors, []);
    });
  } finally {
    await browser.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
