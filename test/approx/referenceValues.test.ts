/**
 * The reference implementation's published numbers (method.md §2.6–2.7): isotropic and general-Gaussian linear
 * and quadratic fits of a 3→4→2 MLP, and the uniform two-component linear mixture fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../../src/linalg/matrix.js';
import { createMLP } from '../../src/approx/network.js';
import { Gaussian, GaussianMixture } from '../../src/approx/inputModel.js';
import { fitLinear, fitQuadratic } from '../../src/approx/fit/index.js';
import { relErr } from './golden.js';

const W1 = Matrix.fromRows([[1, -0.5, 0.25], [0.3, 0.8, -1.2], [-0.7, 0.1, 0.4], [0.5, 0.5, 0.5]]);
const b1 = Float64Array.from([0.1, -0.2, 0.3, 0]);
const W2 = Matrix.fromRows([[1, -1, 0.5, 0.2], [-0.3, 0.6, 1.1, -0.8]]);
const b2 = Float64Array.from([0.05, -0.1]);
const net = (act: string) => createMLP({ W1, b1, W2, b2, activation: act });
const iso = Gaussian.standard(3);
const mu = Float64Array.from([0.2, -0.1, 0.4]);
const Sigma = Matrix.fromRows([[1, 0.3, -0.2], [0.3, 0.5, 0.1], [-0.2, 0.1, 0.8]]);
const gauss = new Gaussian(mu, Sigma);
const TOL = 1e-10;

function close(actual: ArrayLike<number>, expected: number[], what: string, tol = TOL): void {
  const e = relErr(actual, expected);
  assert.ok(e < tol, `${what}: relative error ${e}\n actual ${Array.from(actual)}\n expected ${expected}`);
}

const isoCases: Record<string, { linAlpha: number[]; beta: number[][]; quadAlpha: number[]; gamma: number[][] }> = {
  relu: {
    linAlpha: [0.382774082559, 0.312368623432],
    beta: [[0.225564316908, -0.776062735757], [-0.541988870911, 0.165141946723], [0.847704688897, -0.277852917895]],
    quadAlpha: [0.33602904254, 0.177668855664],
    gamma: [
      [0.229082592215, -0.230872581326, -0.029841349393, 0.142141150647, 0.246445939541, -0.152496202802],
      [0.032763149011, -0.036776088022, -0.005031506451, -0.317388823816, -0.213501266884, 0.106968125209],
    ],
  },
  gelu: {
    linAlpha: [0.287581576887, 0.249629979296],
    beta: [[0.228883161241, -0.779660332934], [-0.539427656441, 0.163539287621], [0.843167176712, -0.273533109096]],
    quadAlpha: [0.245060845377, 0.103707286237],
    gamma: [
      [0.243899972831, -0.250188585191, -0.033602897995, 0.156213221154, 0.266676917964, -0.167776343325],
      [0.031810127899, -0.032982294929, -0.002764999004, -0.331642411354, -0.228121059139, 0.116877564164],
    ],
  },
};

for (const [act, ref] of Object.entries(isoCases)) {
  test(`isotropic ${act}: linear and quadratic fits equal the reference (tril packing)`, () => {
    const lin = fitLinear(net(act), iso);
    close(lin.alpha, ref.linAlpha, 'linear alpha');
    close(lin.beta.data, ref.beta.flat(), 'beta');
    const quad = fitQuadratic(net(act), iso);
    close(quad.alpha, ref.quadAlpha, 'quadratic alpha');
    // Under N(0, I) the quadratic fit's β equals the linear fit's.
    close(quad.beta.data, ref.beta.flat(), 'quadratic beta');
    close(quad.gammaPacked('tril').data, ref.gamma.flat(), 'gamma (tril)');
  });
}

test('isotropic identity: β = (W2 W1)ᵀ, Γ = 0, α = W2 b1 + b2', () => {
  const quad = fitQuadratic(net('identity'), iso);
  close(quad.alpha, [0.5, 0.08], 'alpha');
  close(quad.beta.data, [0.45, -1.29, -1.15, 0.34, 1.75, -0.755], 'beta');
  for (const v of quad.gammaPacked('tril').data) assert.ok(Math.abs(v) < 1e-15);
});

const gaussCases: Record<string, { alpha: number[]; beta: number[][]; g0: number[]; g1: number[]; linAlpha: number[]; linBeta: number[][] }> = {
  relu: {
    alpha: [0.307950911695, 0.191608135024],
    beta: [[0.255750593346, -0.784606127874], [-0.537953800546, 0.157507256307], [0.830097258976, -0.269112753085]],
    g0: [0.255308528597, -0.257777956853, 0.157728395493, -0.022511789494, 0.238343063854, -0.150466415519],
    g1: [0.020388571301, -0.02812172457, -0.317673028038, -0.007692069982, -0.211997027065, 0.104477462969],
    linAlpha: [0.352432948373, 0.324547537682],
    linBeta: [[0.446743158667, -0.900707738112], [-0.489669808476, 0.068622514563], [0.717435499274, -0.227865685611]],
  },
  gelu: {
    alpha: [0.219654335847, 0.114961574462],
    beta: [[0.2551408536, -0.787708110527], [-0.532448001058, 0.15520958945], [0.823110695831, -0.262668622208]],
    g0: [0.269639577817, -0.276569428402, 0.171195805513, -0.02670011352, 0.259478515537, -0.1661819465],
    g1: [0.020555708225, -0.024625043264, -0.332803495396, -0.005174760496, -0.22685927139, 0.115006657747],
    linAlpha: [0.258958778709, 0.259308349545],
    linBeta: [[0.459131949772, -0.910144721068], [-0.47863045782, 0.06057582434], [0.69845644818, -0.214538067951]],
  },
};

for (const [act, ref] of Object.entries(gaussCases)) {
  test(`general Gaussian ${act}: quadratic (triu packing) and linear fits equal the reference`, () => {
    const quad = fitQuadratic(net(act), gauss);
    close(quad.alpha, ref.alpha, 'alpha');
    close(quad.beta.data, ref.beta.flat(), 'beta');
    close(quad.gammaPacked('triu').data, [...ref.g0, ...ref.g1], 'gamma (triu)');
    const lin = fitLinear(net(act), gauss);
    close(lin.alpha, ref.linAlpha, 'linear alpha');
    close(lin.beta.data, ref.linBeta.flat(), 'linear beta');
  });
}

const mixCases: Record<string, { alpha: number[]; beta: number[][] }> = {
  relu: { alpha: [0.410187754489, 0.268883734342], beta: [[0.223558347324, -0.866496361019], [-0.377221985238, 0.127930220988], [0.742913383919, -0.18251093293]] },
  gelu: { alpha: [0.317231929362, 0.202012987672], beta: [[0.225940535811, -0.871907776535], [-0.363689592258, 0.121638690757], [0.72873211643, -0.172072624665]] },
};

for (const [act, ref] of Object.entries(mixCases)) {
  test(`uniform two-component mixture ${act}: linear fit equals the reference`, () => {
    const mix = GaussianMixture.uniform([
      gauss,
      new Gaussian(Float64Array.from([-0.5, 0.3, 0]), Matrix.fromRows([[0.6, -0.1, 0], [-0.1, 1.2, 0.2], [0, 0.2, 0.9]])),
    ]);
    const lin = fitLinear(net(act), mix);
    close(lin.alpha, ref.alpha, 'alpha');
    close(lin.beta.data, ref.beta.flat(), 'beta');
  });
}

test('ReLU with zero biases under N(0, I): β = ½(W2 W1)ᵀ for both fits', () => {
  const n = createMLP({ W1, W2, activation: 'relu' });
  const expected: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += W2.get(c, j) * W1.get(j, i);
      expected.push(0.5 * s);
    }
  }
  close(fitLinear(n, iso).beta.data, expected, 'linear beta', 1e-14);
  close(fitQuadratic(n, iso).beta.data, expected, 'quadratic beta', 1e-14);
});
