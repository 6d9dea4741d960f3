DROP INDEX orders_contact_list_idx;
DROP INDEX orders_client_list_idx;
