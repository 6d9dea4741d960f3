// What an integrator writes with openapi-typescript + openapi-fetch: a client,
// a contact under it, an order, a consent, a PATCH of each, a list page, a
// data-subject request and its ZIP export. It only has to type-check under
// `tsc --strict` (scripts/check-typescript.sh): a document that typed clients
// cannot use fails the build.
import createClient from "openapi-fetch";
import type { paths, components } from "./generated/api";

type Contact = components["schemas"]["ContactOut"];

export async function scenario(baseUrl: string, token: string): Promise<Contact | undefined> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const client = await api.POST("/v1/clients", {
    body: { name: "Acme SAS", siren: "732829320", sector: "retail", tags: ["vip"], custom_fields: { tier: "gold", seats: 12 } },
  });
  if (!client.data) throw new Error(client.error?.detail ?? "no client");
  const clientId: string = client.data.id;

  // A merge patch sends only what changes.
  await api.PATCH("/v1/clients/{id}", { params: { path: { id: clientId } }, body: { sector: "wholesale" } });

  const contact = await api.POST("/v1/contacts", {
    body: { email: "jeanne@example.com", last_name: "Martin", client_id: clientId, audience: "professional" },
  });
  if (!contact.data) throw new Error(contact.error?.detail ?? "no contact");
  const contactId = contact.data.id;
  await api.PATCH("/v1/contacts/{id}", { params: { path: { id: contactId } }, body: { job_title: "Buyer" } });

  const order = await api.POST("/v1/orders", {
    body: { contact_id: contactId, status: "paid", currency: "EUR", total_cents: 12000,
            lines: [{ name: "Widget", quantity: 2, unit_price_cents: 6000 }] },
  });
  if (order.data) {
    await api.PATCH("/v1/orders/{id}", { params: { path: { id: order.data.id } }, body: { status: "fulfilled" } });
  }

  await api.POST("/v1/contacts/{id}/consents", {
    params: { path: { id: contactId } },
    body: { purpose: "newsletter", status: "granted", channel: "web_form", collected_at: new Date().toISOString(),
            proof: { method: "checkbox", wording: "Send me the newsletter" } },
  });

  const page = await api.GET("/v1/contacts", { params: { query: { limit: 50, status: "customer" } } });
  const first: Contact | undefined = page.data?.data[0];
  const spent: number | undefined = first?.stats.spent_last_12m_cents;
  void spent;

  const reach = await api.POST("/v1/reachability/check", {
    body: { channel: "email", purpose: "newsletter", recipients: [{ contact_id: contactId }] },
  });
  const blocked = reach.data?.blocked.map((b) => b.reason) ?? [];
  void blocked;

  const dsar = await api.POST("/v1/dsar", { body: { type: "access", subject: { contact_id: contactId } } });
  if (dsar.data) {
    await api.POST("/v1/dsar/{id}/process", { params: { path: { id: dsar.data.id } } });
    // The ZIP export is an operation of its own: read as a Blob, never as JSON.
    const zip = await api.GET("/v1/dsar/{id}/export.zip", { params: { path: { id: dsar.data.id } }, parseAs: "blob" });
    const archive: Blob | undefined = zip.data;
    void archive;
  }
  return first;
}
