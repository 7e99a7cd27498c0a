/**
 * The dashboard's built files (`dist/dashboard`, written by `vite build`): hashed assets
 * cached for a year, the page itself never cached, every answer with a strict
 * Content-Security-Policy.
 */
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { sendError } from '../admin/http.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A Host header we are willing to repeat in the CSP: host names, IPv4, [IPv6], a port. */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Self only. `connect-src` names the gateway's own ws:/wss: origin for the playground's
 * WebSocket: older browsers do not count ws: as 'self'.
 */
export function contentSecurityPolicy(req: IncomingMessage): string {
  const host = req.headers.host ?? '';
  const sockets = SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The headers every dashboard answer carries. */
export function securityHeaders(req: IncomingMessage): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(req),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
}

/** Serves one directory of built files. */
export class StaticFiles {
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
  }

  /** True when the build is there (`index.html` exists). */
  get built(): boolean {
    return this.#file('index.html') !== undefined;
  }

  /**
   * Sends the file at `relative` (under the root), or returns false when there is none.
   * `immutable`: the name carries a content hash, so it may be cached for good.
   */
  send(req: IncomingMessage, res: ServerResponse, relative: string, immutable: boolean): boolean {
    const file = this.#file(relative);
    if (!file) return false;
    const body = readFileSync(file);
    res.writeHead(200, {
      ...securityHeaders(req),
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': String(body.length),
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  /** The absolute path of a regular file under the root; never one outside it. */
  #file(relative: string): string | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(relative);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const file = resolve(join(this.#root, decoded));
    if (!file.startsWith(this.#root + sep)) return undefined;
    try {
      return statSync(file).isFile() ? file : undefined;
    } catch {
      return undefined;
    }
  }
}

/** 404 as JSON, for asset paths and API paths that do not exist. */
export function sendNotFound(req: IncomingMessage, res: ServerResponse, path: string): void {
  sendError(res, 'NOT_FOUND', `No such dashboard file: ${path}`, 404, securityHeaders(req));
}
