/**
 * The viewer's local HTTP server (node:http): the page shell, its style sheet and modules, and the precomputed
 * files of one cache folder — nothing else. It listens on a loopback address only, answers only requests whose
 * Host header names that address (so a web page elsewhere cannot reach it through DNS rebinding), and sends a
 * Content-Security-Policy that lets the page load nothing but its own origin: no external requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { PAGE_CSS, PAGE_HTML, PAGE_MODULES, pageModule } from './assets.js';

/** Loopback host names the server may bind to. */
export const LOOPBACK_HOSTS: readonly string[] = Object.freeze(['127.0.0.1', 'localhost', '::1']);

/** Options of {@link startViewerServer}. */
export interface ViewerServerOptions {
  /** The folder written by `precomputeViewer` (index.json and its files). */
  cacheDir: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** A loopback address (default 127.0.0.1). */
  host?: string;
}

/** A running viewer server. */
export interface ViewerServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  host: string;
  port: number;
  server: Server;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** The Content-Security-Policy of every response: only same-origin scripts, styles, images and fetches. */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const DATA_FILE = /^\/data\/([A-Za-z0-9][A-Za-z0-9._-]*\.(json|bin))$/;
const MODULE_PATH = /^\/page\/([a-z]+)\.js$/;

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, head: boolean): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    'Cache-Control': 'no-store',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
  res.end(head ? undefined : body);
}

function hostAllowed(hostHeader: string | undefined, port: number): boolean {
  if (hostHeader === undefined) return false;
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(hostHeader.toLowerCase());
}

/**
 * Answers one request (exported for tests): `GET /`, `/app.css`, `/page/<module>.js`, `/data/<file>` from
 * `cacheDir`; 404 for anything else, 405 for methods other than GET/HEAD, 403 for a foreign Host header.
 */
export async function handleViewerRequest(req: IncomingMessage, res: ServerResponse, cacheDir: string, port: number): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
    return;
  }
  if (!hostAllowed(req.headers.host, port)) {
    send(res, 403, 'text/plain; charset=utf-8', 'forbidden: this server answers only requests to its loopback address\n', head);
    return;
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', PAGE_HTML, head);
  if (path === '/app.css') return send(res, 200, 'text/css; charset=utf-8', PAGE_CSS, head);
  if (path === '/favicon.ico') {
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
    return;
  }
  const mod = MODULE_PATH.exec(path);
  if (mod !== null && PAGE_MODULES.includes(mod[1]!)) {
    return send(res, 200, 'text/javascript; charset=utf-8', await pageModule(mod[1]!), head);
  }
  const data = DATA_FILE.exec(path);
  if (data !== null) {
    const file = join(cacheDir, data[1]!);
    try {
      if ((await stat(file)).isFile()) {
        const body = await readFile(file);
        return send(res, 200, data[2] === 'json' ? 'application/json; charset=utf-8' : 'application/octet-stream', body, head);
      }
    } catch {
      // Missing: answered with 404 below.
    }
  }
  send(res, 404, 'text/plain; charset=utf-8', `not found: ${path}\n`, head);
}

/**
 * Starts the server on a loopback address.
 *
 * @throws InvalidArgumentError for a non-loopback host, a bad port, a cache folder without index.json, or a port
 *   that is taken
 */
export async function startViewerServer(opts: ViewerServerOptions): Promise<ViewerServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.includes(host)) throw new InvalidArgumentError(`host must be a loopback address (${LOOPBACK_HOSTS.join(', ')}), got "${host}"`);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`port must be an integer in [0, 65535], got ${port}`);
  const cacheDir = resolve(opts.cacheDir);
  try {
    await stat(join(cacheDir, 'index.json'));
  } catch {
    throw new InvalidArgumentError(`"${cacheDir}" has no index.json: precompute the viewer's files first`);
  }
  // Compile (or read) the page modules now, so that the first page load does not wait for them.
  await Promise.all(PAGE_MODULES.map(pageModule));
  let bound = port;
  const server = createServer((req, res) => {
    handleViewerRequest(req, res, cacheDir, bound).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${(e as Error).message}\n`, false);
      else res.destroy();
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new InvalidArgumentError(`port ${port} on ${host} is already in use; pick another with --port, or 0 for a free one`) : e);
    });
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new InvalidArgumentError('the server did not bind to a TCP port');
  bound = address.port;
  const urlHost = host === '::1' ? '[::1]' : host;
  return {
    url: `http://${urlHost}:${bound}/`,
    host,
    port: bound,
    server,
    close: () => new Promise<void>((resolveClose) => {
      server.close(() => resolveClose());
      server.closeAllConnections();
    }),
  };
}
