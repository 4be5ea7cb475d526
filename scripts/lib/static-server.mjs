// A tiny static file server for the example web client: GET/HEAD of files under one folder,
// nothing else. Used by `npm run example` and by the browser test, each time as a second
// origin beside the API, so that the browser makes real cross-origin (CORS) requests.

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * Serves `root` on `host:port` (port 0 picks a free one). Returns { port, close() }.
 * `/` serves index.html; paths leaving `root` are refused.
 */
export function serveDirectory(root, { host = '127.0.0.1', port = 0 } = {}) {
  const server = createServer((request, response) => {
    const send = (status, text) => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(text);
    };
    if (!['GET', 'HEAD'].includes(request.method)) return send(405, 'method not allowed\n');
    let path;
    try {
      path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    } catch {
      return send(400, 'bad path\n');
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return send(404, 'not found\n');
    let stats;
    try {
      stats = statSync(file);
    } catch {
      return send(404, 'not found\n');
    }
    if (!stats.isFile()) return send(404, 'not found\n');
    response.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': stats.size,
      'cache-control': 'no-store',
    });
    if (request.method === 'HEAD') return response.end();
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port: server.address().port,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
