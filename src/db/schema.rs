// @generated automatically by Diesel CLI.

diesel::table! {
    clients (id) {
        id -> Uuid,
        name -> Text,
        status -> Text,
        siren -> Nullable<Text>,
        siret -> Nullable<Text>,
        vat_number -> Nullable<Text>,
        naf_code -> Nullable<Text>,
        sector -> Nullable<Text>,
        employee_count -> Nullable<Int4>,
        annual_revenue_cents -> Nullable<Int8>,
        currency -> Nullable<Text>,
        website -> Nullable<Text>,
        billing_address -> Nullable<Jsonb>,
        acquisition_channel -> Nullable<Text>,
        owner -> Nullable<Text>,
        tags -> Jsonb,
        custom_fields -> Jsonb,
        orders_count -> Int8,
        total_spent_cents -> Int8,
        first_order_at -> Nullable<Timestamptz>,
        last_order_at -> Nullable<Timestamptz>,
        last_order_total_cents -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        client_id -> Nullable<Uuid>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        job_title -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        status -> Text,
        source -> Nullable<Text>,
        lawful_basis -> Text,
        restricted -> Bool,
        last_interaction_at -> Nullable<Timestamptz>,
        tags -> Jsonb,
        custom_fields -> Jsonb,
        orders_count -> Int8,
        total_spent_cents -> Int8,
        first_order_at -> Nullable<Timestamptz>,
        last_order_at -> Nullable<Timestamptz>,
        last_order_total_cents -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    idempotency_keys (subject, key) {
        subject -> Text,
        key -> Text,
        request_hash -> Bytea,
        status_code -> Nullable<Int2>,
        response_headers -> Nullable<Jsonb>,
        response_body -> Nullable<Bytea>,
        resource_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    interactions (id) {
        id -> Uuid,
        contact_id -> Uuid,
        kind -> Text,
        direction -> Text,
        occurred_at -> Timestamptz,
        summary -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_lines (order_id, position) {
        order_id -> Uuid,
        position -> Int4,
        sku -> Nullable<Text>,
        name -> Text,
        quantity -> Int4,
        unit_price_cents -> Int8,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        client_id -> Nullable<Uuid>,
        contact_id -> Nullable<Uuid>,
        source -> Text,
        external_id -> Nullable<Text>,
        number -> Nullable<Text>,
        status -> Text,
        currency -> Text,
        total_cents -> Int8,
        ordered_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::joinable!(contacts -> clients (client_id));
diesel::joinable!(interactions -> contacts (contact_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(orders -> clients (client_id));
diesel::joinable!(orders -> contacts (contact_id));

diesel::allow_tables_to_appear_in_same_query!(clients, contacts, idempotency_keys, interactions, order_lines, orders,);
