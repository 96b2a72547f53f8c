// An app that registers itself (RFC 7591) through openid-client 6's
// dynamicClientRegistration, with an initial access token, and then signs its user in
// with the device flow as the client it just became: discovery from the issuer alone,
// registration at the advertised registration_endpoint, the device authorization request,
// then polling until the user answers. ID tokens are checked against the published JWKS.
//
// Environment: ISSUER, INITIAL_ACCESS_TOKEN, SCOPE, and OPENID_CLIENT_DIR (the folder whose
// node_modules holds openid-client). Output: one JSON line once registered
// ({"step":"registered",...}), one when the user must act ({"step":"device",...}), one
// when done ({"step":"tokens",...}); a failure is one {"step":"error",...} line and exit
// code 1.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

try {
  const require = createRequire(join(process.env.OPENID_CLIENT_DIR, 'package.json'));
  const client = await import(pathToFileURL(require.resolve('openid-client')).href);

  // Tests serve plain HTTP on loopback; openid-client refuses it unless told.
  const config = await client.dynamicClientRegistration(
    new URL(process.env.ISSUER),
    {
      client_name: 'Living Room TV',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      token_endpoint_auth_method: 'none',
      scope: process.env.SCOPE,
    },
    client.None(),
    {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
      initialAccessToken: process.env.INITIAL_ACCESS_TOKEN,
    },
  );
  const registered = config.clientMetadata();
  say({
    step: 'registered',
    client_id: registered.client_id,
    registration_client_uri: registered.registration_client_uri,
    has_registration_access_token: typeof registered.registration_access_token === 'string',
    token_endpoint_auth_method: registered.token_endpoint_auth_method,
  });
  const device = await client.initiateDeviceAuthorization(config, {
    scope: process.env.SCOPE,
  });
  say({ step: 'device', user_code: device.user_code });
  const tokens = await client.pollDeviceAuthorizationGrant(config, device);
  say({
    step: 'tokens',
    token_type: tokens.token_type,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    access_token: tokens.access_token,
    id_token_claims: tokens.claims(),
  });
} catch (error) {
  say({ step: 'error', name: error?.name, code: error?.code, message: String(error?.message ?? error) });
  process.exit(1);
}
