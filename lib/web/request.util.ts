import type { IncomingHttpHeaders } from 'node:http';

/** A readable request stream: Node's `IncomingMessage` (Express's request is one). */
interface RequestStream {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'error', listener: (arg?: unknown) => void): unknown;
}

/**
 * The parts of an HTTP request the dashboard reads: Express's request (a Node `IncomingMessage`)
 * or Fastify's (which wraps one in `raw`).
 */
export interface WebRequest extends Partial<RequestStream> {
  method: string;
  headers: IncomingHttpHeaders;
  url?: string;
  originalUrl?: string;
  /** Express: the connection is TLS (or trusted `X-Forwarded-Proto: https`). */
  secure?: boolean;
  /** Fastify: `'https'` on TLS (or trusted `X-Forwarded-Proto`). */
  protocol?: string;
  body?: unknown;
  /** Fastify: the underlying Node request. */
  raw?: RequestStream;
}

/**
 * The part of an HTTP response the dashboard writes to directly: Express's (Node's `setHeader`)
 * or Fastify's reply (`header`).
 */
export interface WebResponse {
  setHeader?(name: string, value: string | string[]): unknown;
  header?(name: string, value: string | string[]): unknown;
  getHeader?(name: string): number | string | string[] | undefined;
}

/** Sets a response header on Express or Fastify. */
export function setResponseHeader(res: WebResponse, name: string, value: string | string[]): void {
  if (typeof res.setHeader === 'function') res.setHeader(name, value);
  else if (typeof res.header === 'function') res.header(name, value);
  else throw new TypeError('The dashboard needs Express or Fastify as the HTTP platform.');
}

/** Adds a `Set-Cookie` header, keeping those the application set before. */
export function appendSetCookie(res: WebResponse, cookie: string): void {
  if (typeof res.setHeader === 'function' && typeof res.getHeader === 'function') {
    const before = res.getHeader('Set-Cookie');
    const list = before === undefined ? [] : Array.isArray(before) ? before : [String(before)];
    res.setHeader('Set-Cookie', [...list, cookie]);
  } else setResponseHeader(res, 'Set-Cookie', cookie); // Fastify's reply.header appends Set-Cookie
}

/**
 * The request arrived over TLS as the platform reports it: the socket, or `X-Forwarded-Proto`
 * only when the application trusts its proxy (Express `trust proxy`, Fastify `trustProxy`).
 */
export function isSecure(req: WebRequest): boolean {
  return req.secure === true || req.protocol === 'https';
}

/** Largest form body read when no body parser ran. */
const MAX_FORM_BYTES = 64 * 1024;
const PARSED = Symbol('chronoforge.form');

/**
 * Every value of cookie `name` the request carries, in the order the browser sent them (a page on
 * another port or subdomain of the host can add a same-named cookie of another path).
 */
export function cookieValues(req: WebRequest, name: string): string[] {
  const out: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1 || part.slice(0, eq).trim() !== name) continue;
    try {
      out.push(decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // a malformed cookie is skipped
    }
  }
  return out;
}

/** The posted form fields: the body parser's result, or the urlencoded body read here. */
export async function readForm(req: WebRequest): Promise<Record<string, string>> {
  const cached = (req as unknown as Record<symbol, Record<string, string>>)[PARSED];
  if (cached) return cached;
  let fields: Record<string, string> = {};
  if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>))
      if (typeof v === 'string') fields[k] = v;
  } else if (
    String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
  ) {
    const text =
      typeof req.body === 'string'
        ? req.body
        : Buffer.isBuffer(req.body)
          ? req.body.toString()
          : await readBody(req);
    fields = Object.fromEntries(new URLSearchParams(text));
  }
  (req as unknown as Record<symbol, Record<string, string>>)[PARSED] = fields;
  return fields;
}

function readBody(req: WebRequest): Promise<string> {
  const stream: RequestStream | undefined =
    req.raw ?? (req.on ? (req as RequestStream) : undefined);
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_FORM_BYTES) chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/**
 * The URL path the dashboard is mounted at for this request: everything up to and including
 * `mount` in the request path, so a global prefix (`/api/chronoforge`) is kept.
 */
export function basePath(req: WebRequest, mount: string): string {
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
  const at = path.toLowerCase().indexOf(mount.toLowerCase()); // Express routes ignore case
  const after = path.charAt(at + mount.length);
  return at >= 0 && (after === '' || after === '/') ? path.slice(0, at + mount.length) : mount;
}
