/**
 * The viewer's HTTP server: what it serves, what it refuses (other paths, other methods, foreign Host headers,
 * non-loopback addresses), and the headers that keep the page from loading anything from elsewhere.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../src/errors.js';
import { precomputeViewer } from '../../src/viewer/precompute.js';
import { CONTENT_SECURITY_POLICY, startViewerServer, type ViewerServer } from '../../src/viewer/server.js';
import type { ViewerIndex } from '../../src/viewer/schema.js';
import { makeSyntheticRun } from './synthetic.js';

/** A raw request, so that the Host header and the path are sent exactly as given. */
function raw(port: number, path: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: opts.host ?? `127.0.0.1:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('viewer server', () => {
  let root: string;
  let cacheDir: string;
  let index: ViewerIndex;
  let server: ViewerServer;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'polyapprox-viewer-srv-'));
    const run = makeSyntheticRun(join(root, 'run'), { steps: [5], n: 40, flat: true });
    const r = await precomputeViewer({ source: run.dir, data: run.dataFile, top: 2, kMax: 2, digitsPerClass: 1 });
    cacheDir = r.cacheDir;
    index = r.index;
    server = await startViewerServer({ cacheDir });
  });

  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('listens on 127.0.0.1 at a free port and prints that URL', () => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
  });

  test('serves the page, its style sheet and modules with a same-origin-only CSP', async () => {
    const page = await raw(server.port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/);
    assert.match(CONTENT_SECURITY_POLICY, /connect-src 'self'/);
    assert.ok(page.body.includes('<script type="module" src="/page/app.js">'));
    assert.ok(!/https?:\/\//.test(page.body.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, '')), 'the page names no external URL');
    for (const id of ['checkpoint', 'class']) assert.ok(page.body.includes(`<label for="${id}">`), `#${id} has a label`);
    const css = await raw(server.port, '/app.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.ok(!/url\(|@import/.test(css.body), 'the style sheet loads nothing');
    for (const name of ['app', 'format', 'charts']) {
      const js = await raw(server.port, `/page/${name}.js`);
      assert.equal(js.status, 200, name);
      assert.match(String(js.headers['content-type']), /^text\/javascript/);
      assert.ok(!/import\s+type|:\s*HTMLElement\b/.test(js.body), `${name}.js is plain JavaScript`);
      for (const m of js.body.matchAll(/from\s+'([^']+)'/g)) assert.match(m[1]!, /^\.\/[a-z]+\.js$/, `${name}.js imports only sibling modules`);
    }
  });

  test('serves the precomputed files and nothing else', async () => {
    const idx = await raw(server.port, '/data/index.json');
    assert.equal(idx.status, 200);
    assert.deepEqual(JSON.parse(idx.body), index);
    const blob = await raw(server.port, `/data/${index.checkpoints[0]!.blob}`);
    assert.equal(blob.status, 200);
    assert.equal(blob.headers['content-type'], 'application/octet-stream');
    for (const path of ['/data/../../etc/passwd', '/data/%2e%2e%2fpassword', '/data/.hidden.json', '/page/precompute.js', '/page/../server.js', '/viewer/index.json', '/data/nothere.json', '/etc/passwd']) {
      const r = await raw(server.port, path);
      assert.equal(r.status, 404, path);
    }
  });

  test('refuses other methods and foreign Host headers', async () => {
    const post = await raw(server.port, '/data/index.json', { method: 'POST' });
    assert.equal(post.status, 405);
    const foreign = await raw(server.port, '/data/index.json', { host: `evil.example:${server.port}` });
    assert.equal(foreign.status, 403);
    assert.equal((await raw(server.port, '/', { host: `localhost:${server.port}` })).status, 200);
    const head = await raw(server.port, '/data/index.json', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  test('refuses a non-loopback address, a taken port and a folder without index.json', async () => {
    await assert.rejects(startViewerServer({ cacheDir, host: '0.0.0.0' }), (e: unknown) => e instanceof InvalidArgumentError && /loopback/.test(e.message));
    await assert.rejects(startViewerServer({ cacheDir, port: server.port }), (e: unknown) => e instanceof InvalidArgumentError && /already in use/.test(e.message));
    await assert.rejects(startViewerServer({ cacheDir: root }), (e: unknown) => e instanceof InvalidArgumentError && /index\.json/.test(e.message));
    await assert.rejects(startViewerServer({ cacheDir, port: 70000 }), (e: unknown) => e instanceof InvalidArgumentError && /port/.test(e.message));
  });
});
