// Content-Type parsing, in one place: the media type without parameters, lower-cased.
import type { Headers } from './transport/http.js';
import { headerValue } from './transport/http.js';

/** `application/vnd.oci.image.index.v1+json; charset=utf-8` → `application/vnd.oci.image.index.v1+json`. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

/** The media type a response's Content-Type names, if any. */
export function responseMediaType(headers: Headers): string | undefined {
  return mediaTypeOf(headerValue(headers, 'content-type'));
}

/** Content-Length when the registry sent a well-formed one. */
export function contentLength(headers: Headers): number | undefined {
  const value = headerValue(headers, 'content-length');
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}
