// What the hosted services' own web APIs (GitHub's packages API, Docker Hub's) share: one JSON
// request through the transport (retries, deadline, stats, the plain-HTTP policy), and an HttpError
// for any status the caller does not take, quoting the service's own message, escaped.
import { HttpError, errorCodeForStatus } from '../../base/errors.js';
import { sanitizeLine } from '../../base/redact.js';
import type { ApiExchange, TokenResponse } from '../transport/compose.js';

/** The transport's `apiRequest`, and whether a host may be spoken to over plain HTTP (loopback, or listed insecure). */
export interface ApiSender {
  send(exchange: ApiExchange): Promise<TokenResponse>;
  plainHttpAllowed(host: string): boolean;
}

/** Bodies of these APIs (a page of versions, a login) are small: more is refused. */
export const MAX_API_BYTES = 4 * 1024 * 1024;

export interface ApiCall {
  sender: ApiSender;
  /** the registry the call is about (for the error's facts) */
  registry: string;
  service: string;
  method: ApiExchange['method'];
  url: URL;
  headers: Record<string, string>;
  body?: unknown;
  /** statuses answered with the body; any other is an HttpError */
  expect: number[];
  what: string;
  /** the repository the call is about, for the error's facts */
  repository?: string;
}

/** One call; resolves with the status and the parsed JSON body (undefined when empty or not JSON). */
export async function callApi(call: ApiCall): Promise<{ status: number; json: unknown }> {
  const response = await call.sender.send({
    registry: call.registry,
    method: call.method,
    url: call.url,
    headers: { accept: 'application/json', ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}), ...call.headers },
    body: call.body !== undefined ? JSON.stringify(call.body) : undefined,
    what: call.what,
    maxBytes: MAX_API_BYTES,
    plainHttpAllowed: call.sender.plainHttpAllowed(call.url.host),
    kind: `${call.method} ${call.service}`,
    service: call.service,
  });
  let json: unknown;
  try {
    json = response.bytes && response.bytes.length > 0 ? JSON.parse(response.bytes.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  if (call.expect.includes(response.status)) return { status: response.status, json };
  const said = messageOf(json);
  throw new HttpError(
    errorCodeForStatus(response.status),
    `${call.what}: the ${call.service} ${call.method} ${response.url} answered HTTP ${response.status}${said ? `: ${said}` : ''}`,
    { method: call.method, url: response.url },
    response.status,
    [],
    { registry: call.registry, ...(call.repository ? { repository: call.repository } : {}) },
  );
}

/** The service's own words (`message`, `detail`, `errinfo`…), one escaped line of at most 200 characters. */
function messageOf(json: unknown): string {
  if (typeof json !== 'object' || json === null) return '';
  const record = json as Record<string, unknown>;
  const text = [record.message, record.detail, record.error].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  return text ? sanitizeLine(text).slice(0, 200) : '';
}
