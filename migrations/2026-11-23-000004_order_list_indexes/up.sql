-- The per-client and per-contact order lists (REST and GraphQL's nested
-- pages) filter on the owner and page by (created_at, id): serve both.
CREATE INDEX orders_client_list_idx ON orders (client_id, created_at, id);
CREATE INDEX orders_contact_list_idx ON orders (contact_id, created_at, id);
