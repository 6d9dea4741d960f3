// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8"))]
    pub struct Xid8;
}

diesel::table! {
    client_merges (merged_id) {
        merged_id -> Uuid,
        survivor_id -> Uuid,
        merged_at -> Timestamptz,
        merged_by -> Text,
    }
}

diesel::table! {
    contact_merges (merged_id) {
        merged_id -> Uuid,
        survivor_id -> Uuid,
        email_hmac -> Nullable<Bytea>,
        merged_at -> Timestamptz,
        merged_by -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Bool,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    audit_checkpoints (seq) {
        seq -> Int8,
        hash -> Bytea,
        at -> Timestamptz,
        signature -> Bytea,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> Int8,
        id -> Uuid,
        at -> Timestamptz,
        actor -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        fields -> Jsonb,
        prev_hash -> Bytea,
        hash -> Bytea,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    audit_pending (tx, ord) {
        tx -> Xid8,
        ord -> Int8,
        id -> Uuid,
        at -> Timestamptz,
        actor -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        fields -> Jsonb,
    }
}

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
        last_order_id -> Nullable<Uuid>,
        spent_last_12m_cents -> Int8,
    }
}

diesel::table! {
    consent_events (id) {
        id -> Uuid,
        contact_id -> Uuid,
        purpose -> Text,
        status -> Text,
        channel -> Nullable<Text>,
        collected_at -> Timestamptz,
        proof -> Nullable<Jsonb>,
        recorded_by -> Text,
        recorded_at -> Timestamptz,
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
        suppressed -> Bool,
        last_order_id -> Nullable<Uuid>,
        audience -> Text,
        provenance -> Nullable<Jsonb>,
        art14_notice_due_at -> Nullable<Timestamptz>,
        art14_notice_sent_at -> Nullable<Timestamptz>,
        spent_last_12m_cents -> Int8,
    }
}

diesel::table! {
    contact_notices (id) {
        id -> Uuid,
        contact_id -> Uuid,
        channel -> Text,
        sent_at -> Timestamptz,
        template_version -> Text,
        recorded_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    unsubscribe_links (contact_id, purpose) {
        contact_id -> Uuid,
        purpose -> Text,
        nonce -> Bytea,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sensitive_flags (id) {
        id -> Uuid,
        resource_type -> Text,
        resource_id -> Uuid,
        field -> Text,
        category -> Text,
        lexicon_version -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    dsar_requests (id) {
        id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        status -> Text,
        subject_email -> Nullable<Text>,
        subject_contact_id -> Nullable<Uuid>,
        subject_hmac -> Nullable<Bytea>,
        changes -> Nullable<Jsonb>,
        requested_by -> Nullable<Text>,
        note -> Nullable<Text>,
        requester -> Text,
        received_at -> Timestamptz,
        due_at -> Timestamptz,
        extended -> Bool,
        extension_reason -> Nullable<Text>,
        closed_at -> Nullable<Timestamptz>,
        rejection_reason -> Nullable<Text>,
        result -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        external_id -> Nullable<Text>,
        verification -> Nullable<Text>,
        verified_at -> Nullable<Timestamptz>,
        verify_nonce -> Nullable<Bytea>,
        verify_token_hash -> Nullable<Bytea>,
        verify_expires_at -> Nullable<Timestamptz>,
        verify_contact_id -> Nullable<Uuid>,
        verify_mail -> Nullable<Text>,
        verify_mail_attempts -> Int4,
        verify_mail_next_at -> Nullable<Timestamptz>,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    events (tx, seq) {
        seq -> Int8,
        id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        occurred_at -> Timestamptz,
        resource_type -> Text,
        resource_id -> Text,
        changed_fields -> Jsonb,
        data -> Nullable<Jsonb>,
        tx -> Xid8,
    }
}

diesel::table! {
    export_files (job_id, n) {
        job_id -> Uuid,
        n -> Int4,
        resource -> Text,
        rows -> Int8,
        bytes -> Int8,
        sha256 -> Text,
        path -> Text,
    }
}

diesel::table! {
    export_jobs (id) {
        id -> Uuid,
        status -> Text,
        resources -> Array<Text>,
        format -> Text,
        requested_by -> Text,
        request_id -> Nullable<Text>,
        attempt -> Int4,
        row_counts -> Jsonb,
        rows_done -> Int8,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        heartbeat_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
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
    import_errors (job_id, line, seq) {
        job_id -> Uuid,
        line -> Int8,
        seq -> Int4,
        field -> Text,
        code -> Text,
        message -> Text,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Uuid,
        status -> Text,
        resource -> Text,
        format -> Text,
        match_on -> Nullable<Text>,
        dry_run -> Bool,
        provenance -> Nullable<Jsonb>,
        requested_by -> Text,
        request_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        body_sha256 -> Nullable<Text>,
        bytes -> Int8,
        attempt -> Int4,
        rows_total -> Int8,
        rows_done -> Int8,
        created -> Int8,
        updated -> Int8,
        unchanged -> Int8,
        failed -> Int8,
        skipped -> Int8,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        heartbeat_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    import_rows (job_id, n) {
        job_id -> Uuid,
        n -> Int8,
        line -> Int8,
        data -> Text,
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
    segments (id) {
        id -> Uuid,
        name -> Text,
        resource -> Text,
        filter -> Jsonb,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    spend_window (id) {
        id -> Bool,
        window_start -> Timestamptz,
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

diesel::table! {
    processing_activities (id) {
        id -> Uuid,
        name -> Text,
        purposes -> Jsonb,
        lawful_basis -> Text,
        data_subjects -> Jsonb,
        data_categories -> Jsonb,
        recipients -> Jsonb,
        retention -> Text,
        transfers -> Text,
        security_measures -> Jsonb,
        source -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    purposes (key) {
        key -> Text,
        description -> Text,
        lawful_basis -> Text,
        retention_days -> Int4,
        marketing -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    record_epoch (id) {
        id -> Bool,
        tx -> Xid8,
        purged_tx -> Nullable<Xid8>,
        purged_seq -> Nullable<Int8>,
    }
}

diesel::table! {
    retention_policies (status) {
        status -> Text,
        days -> Nullable<Int4>,
        basis -> Text,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        revoked_by -> Text,
        revoked_at -> Timestamptz,
    }
}

diesel::table! {
    suppression_list (email_hmac) {
        email_hmac -> Bytea,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Uuid,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    webhook_deliveries (id) {
        id -> Uuid,
        webhook_id -> Uuid,
        event_id -> Uuid,
        event_seq -> Int8,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        event_tx -> Xid8,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        url -> Text,
        events -> Jsonb,
        secret -> Text,
        enabled -> Bool,
        dsar_id -> Nullable<Uuid>,
        external_id -> Nullable<Text>,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::joinable!(consent_events -> contacts (contact_id));
diesel::joinable!(contact_notices -> contacts (contact_id));
diesel::joinable!(unsubscribe_links -> contacts (contact_id));
diesel::joinable!(consent_events -> purposes (purpose));
diesel::joinable!(contacts -> clients (client_id));
diesel::joinable!(export_files -> export_jobs (job_id));
diesel::joinable!(import_errors -> import_jobs (job_id));
diesel::joinable!(import_rows -> import_jobs (job_id));
diesel::joinable!(interactions -> contacts (contact_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(orders -> clients (client_id));
diesel::joinable!(orders -> contacts (contact_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_checkpoints,
    audit_head,
    audit_log,
    audit_pending,
    client_merges,
    clients,
    contact_merges,
    consent_events,
    contact_notices,
    contacts,
    dsar_requests,
    events,
    export_files,
    export_jobs,
    idempotency_keys,
    import_errors,
    import_jobs,
    import_rows,
    interactions,
    order_lines,
    orders,
    processing_activities,
    purposes,
    sensitive_flags,
    record_epoch,
    retention_policies,
    segments,
    spend_window,
    revoked_tokens,
    suppression_list,
    unsubscribe_links,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
);
