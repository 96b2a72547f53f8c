// A service using openid-client 6 with resource indicators (RFC 8707) and token exchange
// (RFC 8693): a client-credentials token for one API (`resource` as an extra parameter),
// then that token exchanged for one to another API through genericGrantRequest.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, FIRST (the first API's identifier),
// SECOND (the second's), and OPENID_CLIENT_DIR (the folder whose node_modules holds
// openid-client). Output: one {"step":"tokens",...} JSON line; a failure is one
// {"step":"error",...} line and exit code 1.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

try {
  const require = createRequire(join(process.env.OPENID_CLIENT_DIR, 'package.json'));
  const client = await import(pathToFileURL(require.resolve('openid-client')).href);

  // Tests serve plain HTTP on loopback; openid-client refuses it unless told.
  const config = await client.discovery(
    new URL(process.env.ISSUER),
    process.env.CLIENT_ID,
    undefined,
    client.ClientSecretBasic(process.env.CLIENT_SECRET),
    { execute: [client.allowInsecureRequests] },
  );
  const first = await client.clientCredentialsGrant(config, { resource: process.env.FIRST });
  const exchanged = await client.genericGrantRequest(
    config,
    'urn:ietf:params:oauth:grant-type:token-exchange',
    {
      subject_token: first.access_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      resource: process.env.SECOND,
    },
  );
  let refused = null;
  try {
    await client.clientCredentialsGrant(config, { resource: 'https://unknown.example' });
  } catch (error) {
    refused = error?.error ?? error?.code ?? String(error);
  }
  say({
    step: 'tokens',
    first: first.access_token,
    first_scope: first.scope,
    exchanged: exchanged.access_token,
    issued_token_type: exchanged.issued_token_type,
    exchanged_scope: exchanged.scope,
    refused,
  });
} catch (error) {
  say({ step: 'error', name: error?.name, code: error?.code, error: error?.error, message: String(error?.message ?? error) });
  process.exit(1);
}
