//! The table definitions diesel checks queries against; both migration trees produce this schema.
#![allow(missing_docs)]

diesel::table! {
    users (id) {
        id -> BigInt,
        subject -> Text,
        username -> Text,
        password_hash -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
        profile -> Text,
        is_admin -> Bool,
        is_active -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_login_at -> Nullable<BigInt>,
        imported_from -> Nullable<Text>,
        must_change_password -> Bool,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    client_assertion_jtis (client_id, jti) {
        client_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    pushed_requests (request_uri_hash) {
        request_uri_hash -> Text,
        client_id -> Text,
        params -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used -> Bool,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        is_public -> Bool,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        access_token_ttl -> Nullable<BigInt>,
        refresh_token_ttl -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        id_token_signed_response_alg -> Text,
        access_token_signed_response_alg -> Text,
        dpop_bound_access_tokens -> Bool,
        token_endpoint_auth_method -> Text,
        jwks -> Nullable<Text>,
        jwks_uri -> Nullable<Text>,
        require_pushed_authorization_requests -> Bool,
        self_registered -> Bool,
        registration_token_hash -> Nullable<Text>,
        registration_metadata -> Text,
        allowed_resources -> Text,
        profile -> Text,
    }
}

diesel::table! {
    resources (identifier) {
        identifier -> Text,
        name -> Text,
        scopes -> Text,
        access_token_ttl -> Nullable<BigInt>,
        signing_alg -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        scope -> Text,
        auth_time -> Nullable<BigInt>,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        claims_request -> Nullable<Text>,
        amr -> Nullable<Text>,
        acr -> Nullable<Text>,
        resources -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        client_id -> Text,
        user_id -> BigInt,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        claims_request -> Nullable<Text>,
        auth_time -> BigInt,
        session_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        access_jti -> Nullable<Text>,
        access_exp -> Nullable<BigInt>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        client_id -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        scope -> Text,
        jti -> Nullable<Text>,
        access_jti -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        access_exp -> Nullable<BigInt>,
        successor -> Nullable<Binary>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
        revoked_at -> BigInt,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> BigInt,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        auth_time -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Nullable<Text>,
        action -> Text,
        target -> Nullable<Text>,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttle (bucket) {
        bucket -> Text,
        failures -> BigInt,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
        kind -> Text,
        subject -> Nullable<Text>,
        address -> Nullable<Text>,
        succeeded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    device_codes (device_code_hash) {
        device_code_hash -> Text,
        user_code_hash -> Text,
        client_id -> Text,
        scope -> Text,
        status -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        poll_interval -> BigInt,
        last_polled_at -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        auth_time -> Nullable<BigInt>,
        amr -> Nullable<Text>,
        session_id -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    totp_secrets (user_id) {
        user_id -> BigInt,
        secret -> Text,
        nonce -> Text,
        kek_id -> Text,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> BigInt,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    pending_logins (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        session_hash -> Nullable<Text>,
        amr -> Text,
        return_to -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    server_settings (name) {
        name -> Text,
        value -> Text,
        updated_at -> BigInt,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> BigInt,
        credential_id -> Text,
        name -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (id_hash) {
        id_hash -> Text,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        session_key -> Nullable<Text>,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        address -> Nullable<Text>,
    }
}

diesel::joinable!(grants -> clients (client_id));
diesel::joinable!(grants -> users (user_id));
diesel::joinable!(authorization_codes -> grants (grant_id));
diesel::joinable!(refresh_tokens -> grants (grant_id));
diesel::joinable!(consents -> users (user_id));
diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(device_codes -> clients (client_id));
diesel::joinable!(pushed_requests -> clients (client_id));
diesel::joinable!(client_assertion_jtis -> clients (client_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(webauthn_ceremonies -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    client_assertion_jtis,
    clients,
    grants,
    authorization_codes,
    refresh_tokens,
    revoked_tokens,
    consents,
    sessions,
    audit_log,
    login_throttle,
    password_resets,
    device_codes,
    totp_secrets,
    recovery_codes,
    pending_logins,
    server_settings,
    passkeys,
    webauthn_ceremonies,
    pushed_requests,
);

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        public_key -> Text,
        private_key -> Text,
        nonce -> Text,
        kek_id -> Text,
        state -> Text,
        created_at_ms -> BigInt,
        activates_at_ms -> BigInt,
        retired_at_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    reset_mail_throttle (bucket) {
        bucket -> Text,
        window_start -> BigInt,
        requests -> BigInt,
    }
}

diesel::table! {
    registration_tokens (id) {
        id -> Text,
        token_hash -> Text,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        uses -> BigInt,
    }
}

diesel::table! {
    dpop_proofs (proof_hash) {
        proof_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    dpop_nonces (nonce_hash) {
        nonce_hash -> Text,
        expires_at -> BigInt,
    }
}
