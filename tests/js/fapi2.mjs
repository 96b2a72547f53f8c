// A FAPI 2.0 client signing its user in through openid-client 6: private_key_jwt with an
// ES256 key of its own, the authorization request pushed (PAR) with a DPoP proof so the
// code is bound to the DPoP key, PKCE S256, the `iss` of the response checked, then the
// code exchanged and the tokens refreshed with DPoP proofs (openid-client answers the
// server's use_dpop_nonce by itself).
//
// Environment: ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE, KEY_PKCS8 (the client's private key,
// PKCS#8 DER in base64), KEY_ID, and OPENID_CLIENT_DIR (the folder whose node_modules holds
// openid-client). Output: {"step":"authorize","url":...}, after which the callback URL the
// browser reached is read from standard input, then {"step":"done",...}; a failure is one
// {"step":"error",...} line and exit code 1.
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
    { execute: [client.allowInsecureRequests] },
  );
  const keyPair = await client.randomDPoPKeyPair('ES256', { extractable: true });
  const DPoP = client.getDPoPHandle(config, keyPair);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: process.env.REDIRECT_URI,
      scope: process.env.SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    },
    { DPoP },
  );
  say({ step: 'authorize', url: url.href });

  const lines = createInterface({ input: process.stdin });
  const callback = await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, {
    DPoP,
  });
  say({
    step: 'done',
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    id_token: tokens.id_token,
    id_token_claims: tokens.claims(),
    refreshed_token_type: refreshed.token_type,
    refreshed_access_token: refreshed.access_token,
    public_jwk: await crypto.subtle.exportKey('jwk', keyPair.publicKey),
  });
} catch (error) {
  say({ step: 'error', name: error?.name, code: error?.code, message: String(error?.message ?? error) });
  process.exit(1);
}
