/**
 * Figures as SVG strings (charts through vega-lite, heatmaps drawn directly) and their PNG rendering.
 */
export {
  PUOR_ANCHORS, NEUTRAL_COLOR, divergingColor, sharedSymmetricScale, hexToRgb, rgbToHex, checkScale, type Rgb,
} from './colormap.js';
export {
  lineChart, barChart, spectrumChart, renderVegaLite, SERIES_COLORS, DEFAULT_CHART_WIDTH, DEFAULT_CHART_HEIGHT,
  type ChartAxis, type ChartSize, type LineSeries, type LineChartOptions, type BarChartOptions, type SpectrumChartOptions,
} from './charts.js';
export {
  heatmapGrid, heatmapGridGeometry, heatmapPng, formatTick, HEATMAP_LAYOUT,
  type HeatmapPanel, type HeatmapGridOptions, type HeatmapGridGeometry, type HeatmapPngOptions,
} from './heatmap.js';
export { svgToPng, writeFigure, escapeXml, type PngOptions, type FigureFiles } from './render.js';
