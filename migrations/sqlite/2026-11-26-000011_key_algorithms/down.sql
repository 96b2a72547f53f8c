ALTER TABLE clients DROP COLUMN access_token_signed_response_alg;
ALTER TABLE clients DROP COLUMN id_token_signed_response_alg;
