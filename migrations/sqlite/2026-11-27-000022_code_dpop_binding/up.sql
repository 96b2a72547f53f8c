-- Authorization code binding to a DPoP key (RFC 9449 §10): the JWK thumbprint the
-- authorization request named (dpop_jkt, or the key of the DPoP proof sent with its pushed
-- request). Such a code is redeemed only with a proof signed by that key.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
