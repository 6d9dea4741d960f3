DROP TABLE segments;
DROP INDEX orders_status_ordered_idx, clients_naf_prefix_idx, clients_acquisition_idx, clients_last_order_total_idx,
    clients_first_order_idx, clients_orders_count_idx, clients_total_spent_idx, clients_spent_12m_idx,
    contacts_total_spent_idx, contacts_orders_count_idx, contacts_first_order_idx, contacts_last_order_idx,
    contacts_last_order_total_idx, contacts_source_idx;
DROP TRIGGER consent_events_state ON consent_events;
DROP FUNCTION consent_state_refresh();
DROP TABLE consent_state;
ALTER TABLE contacts DROP COLUMN spent_last_12m_cents;
ALTER TABLE clients DROP COLUMN spent_last_12m_cents;
DROP TABLE spend_window;
