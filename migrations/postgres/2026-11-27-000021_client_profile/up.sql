-- A client's security profile: `none`, or `fapi2` for the FAPI 2.0 Security Profile, whose
-- rules are checked when the client is registered and again on each of its requests (a row
-- edited by hand gets no looser treatment).
ALTER TABLE clients ADD COLUMN profile TEXT NOT NULL DEFAULT 'none';
