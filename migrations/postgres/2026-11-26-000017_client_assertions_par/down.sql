DROP TABLE pushed_requests;
DROP TABLE client_assertion_jtis;
ALTER TABLE clients DROP COLUMN require_pushed_authorization_requests;
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_method;
