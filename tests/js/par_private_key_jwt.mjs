// A high-security web app signing its user in through openid-client 6: the client
// authenticates with private_key_jwt (an ES256 key of its own) and pushes its
// authorization request (PAR) before sending the browser, as banks and health apps do.
// openid-client builds and signs the assertions, pushes the request, checks the `iss` of
// the authorization response, exchanges the code with PKCE and verifies the ID token.
//
// Environment: ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE, KEY_PKCS8 (the client's private key,
// PKCS#8 DER in base64), KEY_ID, and OPENID_CLIENT_DIR (the folder whose node_modules holds
// openid-client). Output: {"step":"authorize","url":...}, after which the callback URL the
// browser reached is read from standard input, then {"step":"tokens",...}; a failure is
// one {"step":"error",...} line and exit code 1.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';

const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

try {
  const require = createRequire(join(process.env.OPENID_CLIENT_DIR, 'package.json'));
  const client = await import(pathToFileURL(require.resolve('openid-client')).href);

  const key = await crypto.subtle.importKey(
    'pkcs8',
    Buffer.from(process.env.KEY_PKCS8, 'base64'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  // Tests serve plain HTTP on loopback; openid-client refuses it unless told.
  const config = await client.discovery(
    new URL(process.env.ISSUER),
    process.env.CLIENT_ID,
    undefined,
    client.PrivateKeyJwt({ key, kid: process.env.KEY_ID }),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: process.env.REDIRECT_URI,
    scope: process.env.SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  say({ step: 'authorize', url: url.href });

  const lines = createInterface({ input: process.stdin });
  const callback = await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  say({
    step: 'tokens',
    token_type: tokens.token_type,
    scope: tokens.scope,
    access_token: tokens.access_token,
    id_token_claims: tokens.claims(),
  });
} catch (error) {
  say({ step: 'error', name: error?.name, code: error?.code, message: String(error?.message ?? error) });
  process.exit(1);
}
