import type { Client, ClientOptions } from "openapi-fetch";
import type { paths } from "./schema.js";

export type { paths, components, operations, webhooks } from "./schema.js";

/** The header that carries the gateway's API key. */
export declare const API_KEY_HEADER: "x-28web-gateway-key";

export interface GatewayClientOptions extends ClientOptions {
  /** Root URL of the gateway, e.g. "http://127.0.0.1:3000". Required. */
  baseUrl: string;
  /** The gateway's API key, sent as x-28web-gateway-key; omit it only for GET /health. */
  apiKey?: string;
}

/** A typed client of every operation in the gateway's OpenAPI document. */
export type GatewayClient = Client<paths>;

/**
 * Returns an openapi-fetch client of the gateway at baseUrl that sends apiKey with every
 * request. Other openapi-fetch options (fetch, headers, ...) pass through.
 */
export declare function createGatewayClient(options: GatewayClientOptions): GatewayClient;
