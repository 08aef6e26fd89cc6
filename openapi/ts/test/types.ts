// Compile-time checks of index.d.ts against the generated schema (`npm run typecheck`); never run.
import { createGatewayClient, type GatewayClient } from "../src/index.js";

export async function typedCalls(): Promise<void> {
  const client: GatewayClient = createGatewayClient({ baseUrl: "http://127.0.0.1:3001", apiKey: "key" });

  const created = await client.POST("/api/v1/sessions", { body: { id: "support-1" } });
  const sessionId: string = created.data?.id ?? "support-1";

  const sent = await client.POST("/api/v1/sessions/{id}/messages", {
    params: { path: { id: sessionId } },
    body: { to: "+55 11 99999-0002", type: "text", text: "hello" },
  });
  const messageId: string | undefined = sent.data?.id;
  const problemStatus: number | undefined = sent.error?.status;
  void messageId;
  void problemStatus;

  // @ts-expect-error: not an operation of the gateway
  await client.GET("/api/v1/no-such-path");
  // @ts-expect-error: the path parameter is required
  await client.GET("/api/v1/sessions/{id}", {});
  // @ts-expect-error: a message needs a recipient
  await client.POST("/api/v1/sessions/{id}/messages", { params: { path: { id: "s" } }, body: { type: "text" } });
  // @ts-expect-error: baseUrl is required
  createGatewayClient({ apiKey: "key" });
}
