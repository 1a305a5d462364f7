// Endpoint URIs: which ones we accept, and how a protocol path is joined to a
// base URI. Base URIs come from verified AK certificates and from the command
// line; both may carry a path ("https://h/attest/"), some a query; none may
// make us talk anything but HTTP(S).

import { sanitizeServerText, transportError, type LayerLabel } from './errors.js';

/** Longest endpoint URI accepted (certificate IA5Strings have no bound of their own). */
export const MAX_URL_LENGTH = 2048;

/**
 * Longest request URL: an endpoint URI (at most MAX_URL_LENGTH) with the
 * protocol's path and query appended (`/v1/evidence?nonce=..&pcrs=..&instance=..`
 * is some 150 to 800 characters). Checking the joined URL against
 * MAX_URL_LENGTH refused every base URI of more than about 1,890 characters.
 */
export const MAX_REQUEST_URL_LENGTH = 2 * MAX_URL_LENGTH;

/**
 * Parses an endpoint base URI: absolute, http or https, a host, no
 * credentials. Throws TRANSPORT_BAD_SCHEME / TRANSPORT_BAD_URL; does no I/O.
 */
export function parseEndpointUrl(uri: string | URL, layer?: LayerLabel, maxLength: number = MAX_URL_LENGTH): URL {
  const text = typeof uri === 'string' ? uri : uri.href;
  // As shown in errors: without credentials or control characters, cut short.
  const shown = sanitizeServerText(text.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@]*@/, '$1'), 200);
  const ctx = { layer, url: shown };
  if (text.length > maxLength) {
    throw transportError('TRANSPORT_BAD_URL', `endpoint URI is ${text.length} characters, more than ${maxLength}`, ctx, { length: text.length, max: maxLength });
  }
  // The scheme is judged first, so "file://h:1/" is a bad scheme even though
  // it is also an unparsable URL.
  const scheme = /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    throw transportError('TRANSPORT_BAD_SCHEME', `endpoint URI scheme ${scheme.slice(0, 20)} is not http or https`, ctx, { scheme: scheme.slice(0, 20), expected: ['http', 'https'] });
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw transportError('TRANSPORT_BAD_URL', 'endpoint URI is not an absolute URL', ctx);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw transportError('TRANSPORT_BAD_URL', 'endpoint URI is not an absolute http(s) URL', ctx);
  }
  if (url.hostname === '') throw transportError('TRANSPORT_BAD_URL', 'endpoint URI has no host', ctx);
  if (url.username !== '' || url.password !== '') {
    throw transportError('TRANSPORT_BAD_URL', 'endpoint URI carries credentials (user:password@); not supported', { layer, url: `${url.protocol}//${url.host}${url.pathname}` });
  }
  return url;
}

/** One query parameter; repeated names are allowed (pcrs=...&pcrs=...). */
export type QueryParam = readonly [name: string, value: string];

// Characters our own parameter values may hold unescaped: hex, bank names,
// PCR lists ("sha256:0,1,2"). Anything else is percent-encoded.
const PLAIN_VALUE = /^[0-9A-Za-z_:,.-]*$/;

/**
 * `{base}{path}?{params}`: the base's path keeps its segments and loses
 * trailing slashes ("https://h/a/" + "/v1/evidence" = "https://h/a/v1/evidence");
 * the base's own query is kept but may not set one of our parameters, nor one
 * of `reserved` (the protocol's parameters for this path, sent or not: a top
 * layer is asked without `instance`, yet a base setting it would speak for the
 * challenger); the fragment is dropped.
 */
export function joinEndpoint(base: string | URL, path: string, params: readonly QueryParam[], layer?: LayerLabel, reserved: readonly string[] = []): URL {
  const url = parseEndpointUrl(base, layer);
  const ours = new Set([...params.map(([n]) => n), ...reserved]);
  for (const name of new URLSearchParams(url.search).keys()) {
    if (ours.has(name)) {
      throw transportError('TRANSPORT_BAD_URL', `endpoint URI already sets the query parameter "${name}" that the protocol reserves`, { layer, url: url.href }, { parameter: name });
    }
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  url.hash = '';
  const query = params.map(([n, v]) => `${encodeURIComponent(n)}=${PLAIN_VALUE.test(v) ? v : encodeURIComponent(v)}`).join('&');
  const existing = url.search.replace(/^\?/, '');
  url.search = existing === '' ? query : query === '' ? existing : `${existing}&${query}`;
  return url;
}
