// A public app signing its user in with the authorization code flow and DPoP (RFC 9449)
// through openid-client 6, as any Node app would: discovery from the issuer alone, PKCE,
// a DPoP key pair of its own, the code exchange, userinfo, a refresh and a call to a
// protected resource, all with DPoP proofs. openid-client answers the server's
// use_dpop_nonce by itself (one retry with the nonce).
//
// Environment: ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE, RESOURCE (a protected URL), and
// OPENID_CLIENT_DIR (the folder whose node_modules holds openid-client). Output: one JSON
// line with the URL to send the user to ({"step":"authorize","url":...}); the test answers
// with the redirect it got, on stdin; then one line when done ({"step":"done",...}). A
// failure is one {"step":"error",...} line and exit code 1.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const readLine = async () => (await input.next()).value;

try {
  const require = createRequire(join(process.env.OPENID_CLIENT_DIR, 'package.json'));
  const client = await import(pathToFileURL(require.resolve('openid-client')).href);

  // Tests serve plain HTTP on loopback; openid-client refuses it unless told.
  const config = await client.discovery(
    new URL(process.env.ISSUER),
    process.env.CLIENT_ID,
    undefined,
    client.None(),
    { execute: [client.allowInsecureRequests] },
  );
  const keyPair = await client.randomDPoPKeyPair('ES256', { extractable: true });
  const DPoP = client.getDPoPHandle(config, keyPair);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: process.env.SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  say({ step: 'authorize', url: url.href });
  const callback = new URL(await readLine());

  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier, expectedState: state },
    undefined,
    { DPoP },
  );
  const sub = tokens.claims().sub;
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, {
    DPoP,
  });
  const resource = await client.fetchProtectedResource(
    config,
    refreshed.access_token,
    new URL(process.env.RESOURCE),
    'GET',
    undefined,
    undefined,
    { DPoP },
  );
  say({
    step: 'done',
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    refreshed_token_type: refreshed.token_type,
    refreshed_access_token: refreshed.access_token,
    userinfo,
    resource_status: resource.status,
    resource: await resource.json(),
    public_jwk: await crypto.subtle.exportKey('jwk', keyPair.publicKey),
  });
  process.exit(0);
} catch (error) {
  say({ step: 'error', name: error?.name, code: error?.code, message: String(error?.message ?? error) });
  process.exit(1);
}
