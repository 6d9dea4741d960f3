DROP TABLE idempotency_keys;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE interactions;
DROP TABLE contacts;
DROP TABLE clients;
