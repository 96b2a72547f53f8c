// Tessera's passkey ceremonies, for the login page, the second step and the account page.
// The element marked `data-options` (the account page's form, or the passkey button of the
// login page or the second step) first asks Tessera for the ceremony's options, hands them
// to the browser's WebAuthn API, and submits the authenticator's answer in the form's hidden
// fields: Tessera then answers as it does any form (a redirect, or a page that says what
// went wrong). A button's `data-cancelled` says what to tell a user who used no passkey.
"use strict";

(function () {
  const trigger = document.querySelector("[data-options]");
  if (!trigger) {
    return;
  }
  const form = trigger.form || trigger;
  // The login page's button posts its form elsewhere than the password does.
  const signIn = trigger.hasAttribute("data-action");
  const status = document.getElementById("passkey-status");
  const block = document.getElementById("passkey-block");
  if (!window.PublicKeyCredential || !navigator.credentials) {
    if (status) {
      status.textContent = "This browser cannot use passkeys.";
    }
    return;
  }
  if (block) {
    block.hidden = false;
  }
  // A button shown before this script ran starts disabled, so it is never pressed in vain.
  trigger.disabled = false;

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: fromBase64url(d.id) });
    });
  }

  function creationOptions(options) {
    const o = Object.assign({}, options.publicKey);
    o.challenge = fromBase64url(o.challenge);
    o.user = Object.assign({}, o.user, { id: fromBase64url(o.user.id) });
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return { publicKey: o };
  }

  function requestOptions(options) {
    const o = Object.assign({}, options.publicKey);
    o.challenge = fromBase64url(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return { publicKey: o };
  }

  function created(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(r.attestationObject),
        clientDataJSON: toBase64url(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  function asserted(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(r.authenticatorData),
        clientDataJSON: toBase64url(r.clientDataJSON),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  async function run() {
    const body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    const res = await fetch(trigger.getAttribute("data-options"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
    });
    const answer = await res.json().catch(function () {
      return {};
    });
    if (!res.ok) {
      say(answer.message || "Tessera could not start the passkey request. Please reload the page.");
      return;
    }
    let credential;
    try {
      credential = signIn
        ? await navigator.credentials.get(requestOptions(answer.options))
        : await navigator.credentials.create(creationOptions(answer.options));
    } catch (e) {
      say(
        trigger.getAttribute("data-cancelled") ||
          (signIn
            ? "No passkey was used. You can try again, or sign in with your password."
            : "No passkey was created. You can try again.")
      );
      return;
    }
    form.elements.ceremony.value = answer.ceremony;
    form.elements.credential.value = JSON.stringify(signIn ? asserted(credential) : created(credential));
    say(signIn ? "Signing you in…" : "Saving your passkey…");
    if (signIn) {
      form.action = trigger.getAttribute("data-action");
    }
    form.submit();
  }

  function start() {
    run().catch(function () {
      say("Something went wrong. Please reload the page and try again.");
    });
  }

  if (signIn) {
    trigger.addEventListener("click", start);
  } else {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.reportValidity()) {
        start();
      }
    });
  }
})();
