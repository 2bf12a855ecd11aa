import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import {
  HEATMAP_LAYOUT, NEUTRAL_COLOR, PUOR_ANCHORS, divergingColor, formatTick, heatmapGrid, heatmapGridGeometry, heatmapPng,
  hexToRgb, rgbToHex, sharedSymmetricScale, svgToPng,
} from '../../src/figures/index.js';
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { allElements, allText, parseXml, type XmlElement } from './xml.js';

function pixel(png: PNG, x: number, y: number): string {
  const o = (y * png.width + x) * 4;
  return rgbToHex([png.data[o]!, png.data[o + 1]!, png.data[o + 2]!]);
}

function panelRects(root: XmlElement, index: number): XmlElement[] {
  const g = allElements(root).find((e) => e.name === 'g' && e.attrs['data-index'] === String(index));
  assert.ok(g, `panel ${index} group`);
  return g.children.filter((e) => e.name === 'rect' && e.attrs.fill !== 'none');
}

describe('the xml test helper', () => {
  test('rejects malformed documents', () => {
    assert.throws(() => parseXml('<a><b></a></b>'));
    assert.throws(() => parseXml('<a x="1" x="2"/>'));
    assert.throws(() => parseXml('<a>&bogus;</a>'));
    assert.throws(() => parseXml('<a/><b/>'));
    assert.throws(() => parseXml('<a x=1/>'));
    assert.deepEqual(parseXml('<?xml version="1.0"?><a k="&lt;&amp;"><b>t&#65;</b></a>').children[0]!.text, 'tA');
  });
});

describe('PuOr colormap', () => {
  test('0 is the neutral colour and ±scale the end colours, beyond ±scale clipped', () => {
    for (const scale of [1e-3, 0.2, 1, 37]) {
      assert.equal(rgbToHex(divergingColor(0, scale)), NEUTRAL_COLOR);
      assert.equal(rgbToHex(divergingColor(scale, scale)), PUOR_ANCHORS[10]);
      assert.equal(rgbToHex(divergingColor(-scale, scale)), PUOR_ANCHORS[0]);
      assert.equal(rgbToHex(divergingColor(5 * scale, scale)), PUOR_ANCHORS[10]);
      assert.equal(rgbToHex(divergingColor(-5 * scale, scale)), PUOR_ANCHORS[0]);
    }
    assert.equal(NEUTRAL_COLOR, '#f7f7f7');
    assert.equal(PUOR_ANCHORS[0], '#7f3b08');
    assert.equal(PUOR_ANCHORS[10], '#2d004b');
  });

  test('hits every anchor at k/5 − 1 and interpolates linearly in sRGB between them', () => {
    for (let k = 0; k <= 10; k++) assert.equal(rgbToHex(divergingColor(k / 5 - 1, 1)), PUOR_ANCHORS[k]);
    // Halfway between anchors 6 (#d8daeb) and 7 (#b2abd2): the rounded channel means.
    const a = hexToRgb(PUOR_ANCHORS[6]!);
    const b = hexToRgb(PUOR_ANCHORS[7]!);
    assert.deepEqual(divergingColor(0.3, 1), a.map((v, i) => Math.round((v + b[i]!) / 2)));
  });

  test('depends only on value/scale, and darkens monotonically away from 0 (property)', () => {
    const lum = (c: readonly number[]): number => 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
    fc.assert(fc.property(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (t, s) => {
      assert.deepEqual(divergingColor(t * s, s), divergingColor(t, 1));
      // Farther from 0 on the same side is never lighter (PuOr's lightness decreases toward both ends).
      const nearer = divergingColor(t / 2, 1);
      assert.ok(lum(divergingColor(t, 1)) <= lum(nearer) + 1.5);
    }));
  });

  test('rejects non-finite values and bad scales', () => {
    assert.throws(() => divergingColor(NaN, 1), NonFiniteError);
    assert.throws(() => divergingColor(0, 0), InvalidArgumentError);
    assert.throws(() => divergingColor(0, -1), InvalidArgumentError);
    assert.throws(() => sharedSymmetricScale([[1, Infinity]]), NonFiniteError);
    assert.equal(sharedSymmetricScale([[0, 0], [0]]), 1);
    assert.equal(sharedSymmetricScale([[0.5, -0.25], [-2, 1]]), 2);
  });
});

describe('heatmapGrid', () => {
  const A = { title: 'panel A: λ = 0.5', values: Float64Array.from([0, 1, -1, 0.5, -0.5, 0.25, 0, 0, 0, 0, 0, 0]), width: 4, height: 3 };
  const B = { title: 'panel <B>', values: Float64Array.from([0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.25]), width: 4, height: 3 };

  test('geometry follows the documented layout', () => {
    const L = HEATMAP_LAYOUT;
    const g = heatmapGridGeometry({ title: 't', panels: [A, B, A], columns: 2, cellSize: 10 });
    assert.equal(g.rows, 2);
    assert.equal(g.width, L.margin + (2 * 40 + L.gap) + L.colorbarGap + L.colorbarWidth + L.colorbarLabels + L.margin);
    assert.equal(g.height, L.margin + L.titleHeight + 2 * (L.panelTitleHeight + 30) + L.gap + L.margin);
    // With the constants of today: a hand-computed size.
    assert.deepEqual([g.width, g.height], [224, 168]);
    // One short row: the figure grows to hold the 60 px colour bar below its panel-title row.
    const one = heatmapGridGeometry({ panels: [A], columns: 1, cellSize: 10 });
    assert.deepEqual([one.height, one.colorbar.height], [16 + 18 + 60 + 16, 60]);
    assert.deepEqual(g.panelOrigin(2), { x: 16, y: 16 + 28 + 18 + 30 + 12 + 18 });
    // Default cell size: ⌊168 / 28⌋ = 6 for MNIST-sized images.
    assert.equal(heatmapGridGeometry({ panels: [{ title: '', values: new Float64Array(784), width: 28, height: 28 }], columns: 1 }).cellSize, 6);
  });

  test('valid SVG with the stated size, titles, a colour bar with tick values, and a shared centred scale', () => {
    const svg = heatmapGrid({ title: 'Eigenvectors & β', panels: [A, B], columns: 2, colorbar: true, cellSize: 10, colorbarLabel: 'weight' });
    const root = parseXml(svg);
    const geo = heatmapGridGeometry({ title: 'x', panels: [A, B], columns: 2, cellSize: 10 });
    assert.equal(root.name, 'svg');
    assert.equal(root.attrs.width, String(geo.width));
    assert.equal(root.attrs.height, String(geo.height));
    const texts = allText(root);
    for (const t of ['Eigenvectors & β', 'panel A: λ = 0.5', 'panel <B>', 'weight', '1', '0.5', '0', '−0.5', '−1']) {
      assert.ok(texts.includes(t), `text "${t}" missing from ${JSON.stringify(texts)}`);
    }
    const ra = panelRects(root, 0);
    const rb = panelRects(root, 1);
    assert.equal(ra.length, 12);
    assert.equal(rb.length, 12);
    // Shared scale = max |v| over both panels = 1.
    assert.equal(ra[0]!.attrs.fill, NEUTRAL_COLOR);
    assert.equal(ra[1]!.attrs.fill, PUOR_ANCHORS[10]);
    assert.equal(ra[2]!.attrs.fill, PUOR_ANCHORS[0]);
    // 0.5 is the same colour in both panels although it is panel B's own maximum.
    assert.equal(rb[0]!.attrs.fill, ra[3]!.attrs.fill);
    assert.equal(rb[0]!.attrs.fill, rgbToHex(divergingColor(0.5, 1)));
    assert.notEqual(rb[0]!.attrs.fill, PUOR_ANCHORS[10]);
    assert.equal(ra[5]!.attrs.fill, rgbToHex(divergingColor(0.25, 1)));
    assert.equal(rb[11]!.attrs.fill, rgbToHex(divergingColor(-0.25, 1)));
    // Cells are laid out row-major: value 5 (row 1, column 1) sits at (10, 10).
    assert.equal(ra[5]!.attrs.x, '10');
    assert.equal(ra[5]!.attrs.y, '10');
  });

  test('an explicit scale overrides the data and clips', () => {
    const root = parseXml(heatmapGrid({ panels: [A], columns: 1, colorbar: true, scale: 0.5, cellSize: 4 }));
    const r = panelRects(root, 0);
    assert.equal(r[1]!.attrs.fill, PUOR_ANCHORS[10]);
    assert.equal(r[3]!.attrs.fill, PUOR_ANCHORS[10]);
    assert.equal(r[4]!.attrs.fill, PUOR_ANCHORS[0]);
    assert.ok(allText(root).includes('0.25'));
  });

  test('renders to a PNG of the stated size whose cells and colour bar show the map', () => {
    const svg = heatmapGrid({ panels: [A, B], columns: 2, colorbar: true, cellSize: 10 });
    const geo = heatmapGridGeometry({ panels: [A, B], columns: 2, cellSize: 10 });
    const png = PNG.sync.read(Buffer.from(svgToPng(svg)));
    assert.equal(png.width, geo.width);
    assert.equal(png.height, geo.height);
    const o = geo.panelOrigin(0);
    assert.equal(pixel(png, o.x + 15, o.y + 5), PUOR_ANCHORS[10]); // value 1 at column 1, row 0
    assert.equal(pixel(png, o.x + 25, o.y + 5), PUOR_ANCHORS[0]); // value −1
    assert.equal(pixel(png, o.x + 5, o.y + 5), NEUTRAL_COLOR); // value 0
    // The gradient bar shows the same map: +scale at the top, −scale at the bottom.
    const bar = geo.colorbar;
    for (const py of [bar.y + 2, bar.y + 13, Math.round(bar.y + bar.height / 2), bar.y + bar.height - 3]) {
      const t = 1 - (2 * (py + 0.5 - bar.y)) / bar.height;
      const got = hexToRgb(pixel(png, bar.x + bar.width / 2, py));
      const want = divergingColor(t, 1);
      assert.ok(got.every((v, k) => Math.abs(v - want[k]!) <= 3), `colour bar at y=${py}: ${rgbToHex(got)} vs ${rgbToHex(want)}`);
    }
  });

  test('embedded-PNG cells carry the same colours', () => {
    const root = parseXml(heatmapGrid({ panels: [A, B], columns: 1, colorbar: true, cellSize: 3, cells: 'png' }));
    const images = allElements(root).filter((e) => e.name === 'image');
    assert.equal(images.length, 2);
    const href = images[1]!.attrs['xlink:href']!;
    assert.match(href, /^data:image\/png;base64,/);
    const png = PNG.sync.read(Buffer.from(href.split(',')[1]!, 'base64'));
    assert.deepEqual([png.width, png.height], [12, 9]);
    assert.equal(pixel(png, 1, 1), rgbToHex(divergingColor(0.5, 1)));
    assert.equal(pixel(png, 11, 8), rgbToHex(divergingColor(-0.25, 1)));
  });

  test('rejects bad input with typed errors', () => {
    assert.throws(() => heatmapGrid({ panels: [], columns: 1, colorbar: true }), InvalidArgumentError);
    assert.throws(() => heatmapGrid({ panels: [{ ...A, width: 5 }], columns: 1, colorbar: true }), ShapeError);
    assert.throws(() => heatmapGrid({ panels: [A], columns: 0, colorbar: true }), InvalidArgumentError);
    assert.throws(() => heatmapGrid({ panels: [{ ...A, values: Float64Array.from(A.values, (v, i) => (i === 3 ? NaN : v)) }], columns: 1, colorbar: true }), NonFiniteError);
    assert.throws(() => heatmapGrid({ panels: [A], columns: 1, colorbar: false as true }), InvalidArgumentError);
    assert.throws(() => heatmapGrid({ panels: [A], columns: 1, colorbar: true, scale: 0 }), InvalidArgumentError);
  });
});

describe('heatmapPng', () => {
  test('decodes to width·pixelSize × height·pixelSize with one colour block per value', () => {
    const values = Float64Array.from([-2, 0, 1, 2, 0.5, -1]);
    const bytes = heatmapPng(values, 3, 2, { pixelSize: 4 });
    const png = PNG.sync.read(Buffer.from(bytes));
    assert.deepEqual([png.width, png.height], [12, 8]);
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 3; c++) {
        const want = rgbToHex(divergingColor(values[r * 3 + c]!, 2));
        for (const [dx, dy] of [[0, 0], [3, 3], [1, 2]] as const) assert.equal(pixel(png, c * 4 + dx, r * 4 + dy), want);
        assert.equal(png.data[((r * 4) * 12 + c * 4) * 4 + 3], 255);
      }
    }
    assert.equal(pixel(png, 4, 0), NEUTRAL_COLOR);
  });

  test('an explicit scale is used as given', () => {
    const png = PNG.sync.read(Buffer.from(heatmapPng([0.1, -0.1], 2, 1, { scale: 0.1 })));
    assert.deepEqual([pixel(png, 0, 0), pixel(png, 1, 0)], [PUOR_ANCHORS[10], PUOR_ANCHORS[0]]);
  });

  test('rejects bad input', () => {
    assert.throws(() => heatmapPng([1, 2, 3], 2, 2), ShapeError);
    assert.throws(() => heatmapPng([1, NaN], 2, 1), NonFiniteError);
    assert.throws(() => heatmapPng([1, 2], 2, 1, { pixelSize: 0 }), InvalidArgumentError);
    assert.throws(() => heatmapPng([1, 2], 2, 1, { scale: -1 }), InvalidArgumentError);
  });

  test('formatTick keeps 3 significant digits and a real minus sign', () => {
    assert.equal(formatTick(0), '0');
    assert.equal(formatTick(0.123456), '0.123');
    assert.equal(formatTick(-0.5), '−0.5');
    assert.equal(formatTick(12345), '1.23e+4');
    assert.equal(formatTick(-2e-5), '−2e-5');
  });
});
