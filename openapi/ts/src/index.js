// Client of the 28web WhatsApp gateway's REST API on openapi-fetch. Typed by index.d.ts with
// the paths generated from openapi/openapi.yaml into schema.d.ts (`make generate`).
import createClient from "openapi-fetch";

/** The header that carries the gateway's API key. */
export const API_KEY_HEADER = "x-28web-gateway-key";

/**
 * Returns an openapi-fetch client of the gateway at baseUrl that sends apiKey with every
 * request. Other openapi-fetch options (fetch, headers, ...) pass through.
 */
export function createGatewayClient({ baseUrl, apiKey, headers, ...options } = {}) {
  if (!baseUrl) {
    throw new TypeError("createGatewayClient: baseUrl is required");
  }
  const merged = new Headers(headers);
  if (apiKey) {
    merged.set(API_KEY_HEADER, apiKey);
  }
  return createClient({ ...options, baseUrl, headers: merged });
}
