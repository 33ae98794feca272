// Content-Type and Content-Length as the registry sent them.
import { describe, expect, it } from '@jest/globals';
import { contentLength, mediaTypeOf, responseMediaType } from '../../src/registry/content-type.js';

describe('content-type', () => {
  it('gives the media type without parameters, lower-cased, or undefined', () => {
    expect(mediaTypeOf('Application/VND.OCI.Image.Index.v1+json; charset=utf-8')).toBe('application/vnd.oci.image.index.v1+json');
    expect(mediaTypeOf('  ')).toBeUndefined();
    expect(mediaTypeOf(undefined)).toBeUndefined();
    expect(responseMediaType({ 'content-type': ['text/plain; a=b', 'application/json'] })).toBe('text/plain');
  });

  it('reads only a well-formed Content-Length', () => {
    expect(contentLength({ 'content-length': ' 1234 ' })).toBe(1234);
    expect(contentLength({ 'content-length': '-1' })).toBeUndefined();
    expect(contentLength({ 'content-length': '12abc' })).toBeUndefined();
    expect(contentLength({})).toBeUndefined();
  });
});
