// A command-line app signing its user in with the device flow through openid-client 6,
// as any Node app would: discovery from the issuer alone, the device authorization
// request, then polling until the user answers. openid-client checks the ID token's
// signature against the published JWKS (non-repudiation checks) and its claims.
//
// Environment: ISSUER, CLIENT_ID, SCOPE, and OPENID_CLIENT_DIR (the folder whose
// node_modules holds openid-client). Output: one JSON line when the user must act
// ({"step":"device",...}), one when done ({"step":"tokens",...}); a failure is one
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
    client.None(),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const device = await client.initiateDeviceAuthorization(config, {
    scope: process.env.SCOPE,
  });
  say({
    step: 'device',
    user_code: device.user_code,
    verification_uri: device.verification_uri,
    verification_uri_complete: device.verification_uri_complete,
    expires_in: device.expires_in,
    interval: device.interval,
  });
  const tokens = await client.pollDeviceAuthorizationGrant(config, device);
  const claims = tokens.claims();
  say({
    step: 'tokens',
    token_type: tokens.token_type,
    scope: tokens.scope,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    access_token: tokens.access_token,
    id_token_claims: claims,
  });
} catch (error) {
  say({ step: 'error', name: error?.name, code: error?.code, message: String(error?.message ?? error) });
  process.exit(1);
}
