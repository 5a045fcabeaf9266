// Ward's WebAuthn and passkey ceremonies for self-service forms, served at
// /.well-known/ory/webauthn.js. Flow nodes call these functions from their onclick / onload
// attributes (the names Ory Kratos's UIs expect): each reads the options the server put in the
// form, runs navigator.credentials, writes the result as JSON into a hidden input and submits
// the form. Binary fields travel as unpadded base64url.
(function () {
  'use strict';
  if (window.__oryWebAuthnInitialized) {
    return;
  }
  window.__oryWebAuthnInitialized = true;

  function toBytes(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    if (!buffer) {
      return '';
    }
    let binary = '';
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function field(name) {
    return document.querySelector('[name="' + name + '"]');
  }

  function options(value) {
    return typeof value === 'string' ? JSON.parse(value) : value;
  }

  function decodeDescriptors(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: toBytes(item.id) }));
  }

  function creationOptions(publicKey) {
    const decoded = Object.assign({}, publicKey);
    decoded.challenge = toBytes(publicKey.challenge);
    decoded.user = Object.assign({}, publicKey.user, { id: toBytes(publicKey.user.id) });
    decoded.excludeCredentials = decodeDescriptors(publicKey.excludeCredentials);
    return decoded;
  }

  function requestOptions(publicKey) {
    const decoded = Object.assign({}, publicKey);
    decoded.challenge = toBytes(publicKey.challenge);
    decoded.allowCredentials = decodeDescriptors(publicKey.allowCredentials);
    return decoded;
  }

  function created(credential) {
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toText(credential.response.attestationObject),
        clientDataJSON: toText(credential.response.clientDataJSON),
      },
    });
  }

  function asserted(credential) {
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toText(credential.response.authenticatorData),
        clientDataJSON: toText(credential.response.clientDataJSON),
        signature: toText(credential.response.signature),
        userHandle: toText(credential.response.userHandle),
      },
    });
  }

  function submit(resultName, value) {
    const result = field(resultName);
    result.value = value;
    result.closest('form').submit();
  }

  function report(error) {
    if (error && error.name === 'AbortError') {
      return;
    }
    window.alert(error && error.message ? error.message : String(error));
  }

  function webAuthnRegistration(given) {
    const opts = options(given || field('webauthn_register_trigger').value);
    navigator.credentials
      .create({ publicKey: creationOptions(opts.publicKey) })
      .then((credential) => submit('webauthn_register', created(credential)))
      .catch(report);
  }

  function webAuthnLogin(given) {
    const opts = options(given || field('webauthn_login_trigger').value);
    navigator.credentials
      .get({ publicKey: requestOptions(opts.publicKey) })
      .then((credential) => submit('webauthn_login', asserted(credential)))
      .catch(report);
  }

  // Passkey sign-in offered in the identifier field's autofill, where the browser can.
  function passkeyLoginAutocompleteInit() {
    const challenge = field('passkey_challenge');
    if (!challenge || !field('identifier') || !window.PublicKeyCredential) {
      return;
    }
    const available = PublicKeyCredential.isConditionalMediationAvailable;
    if (!available) {
      return;
    }
    available.call(PublicKeyCredential).then((yes) => {
      if (!yes) {
        return;
      }
      if (window.abortPasskeyConditionalUI) {
        window.abortPasskeyConditionalUI.abort();
      }
      const controller = new AbortController();
      window.abortPasskeyConditionalUI = controller;
      const opts = options(challenge.value);
      navigator.credentials
        .get({
          publicKey: requestOptions(opts.publicKey),
          mediation: 'conditional',
          signal: controller.signal,
        })
        .then((credential) => submit('passkey_login', asserted(credential)))
        .catch(report);
    });
  }

  function passkeyLogin() {
    if (window.abortPasskeyConditionalUI) {
      window.abortPasskeyConditionalUI.abort();
      window.abortPasskeyConditionalUI = undefined;
    }
    const opts = options(field('passkey_challenge').value);
    navigator.credentials
      .get({ publicKey: requestOptions(opts.publicKey) })
      .then((credential) => submit('passkey_login', asserted(credential)))
      .catch((error) => {
        report(error);
        passkeyLoginAutocompleteInit();
      });
  }

  // Sign-up: the passkey is named after the first filled form field the server lists.
  function passkeyRegistration() {
    const data = options(field('passkey_create_data').value);
    const publicKey = data.credentialOptions.publicKey;
    const names = data.displayNameFieldNames || [data.displayNameFieldName];
    for (const name of names) {
      const input = name && field(name);
      if (input && input.value) {
        publicKey.user.name = input.value;
        publicKey.user.displayName = input.value;
        break;
      }
    }
    navigator.credentials
      .create({ publicKey: creationOptions(publicKey) })
      .then((credential) => submit('passkey_register', created(credential)))
      .catch(report);
  }

  function passkeySettingsRegistration() {
    const opts = options(field('passkey_create_data').value);
    navigator.credentials
      .create({ publicKey: creationOptions(opts.publicKey) })
      .then((credential) => submit('passkey_settings_register', created(credential)))
      .catch(report);
  }

  const api = {
    oryWebAuthnRegistration: webAuthnRegistration,
    oryWebAuthnLogin: webAuthnLogin,
    oryPasskeyLogin: passkeyLogin,
    oryPasskeyLoginAutocompleteInit: passkeyLoginAutocompleteInit,
    oryPasskeyRegistration: passkeyRegistration,
    oryPasskeySettingsRegistration: passkeySettingsRegistration,
  };
  for (const [name, fn] of Object.entries(api)) {
    window[name] = fn;
    window['__' + name] = fn;
  }
  window.dispatchEvent(new Event('oryWebAuthnInitialized'));
})();
