// Passkeys through @simplewebauthn/browser: the server hands out WebAuthn options (webauthn-rs's
// `{publicKey: ...}` shape) and checks what the authenticator answers.
import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { api, run, type Schemas } from './api/client';

type WebAuthnJson = Schemas['WebAuthnJson'];
type PasskeyAssertion = Schemas['PasskeyAssertion'];
type PasskeyAttestation = Schemas['PasskeyAttestation'];

export { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill };

function publicKey<T>(options: WebAuthnJson): T {
  const inner = (options as { publicKey?: unknown }).publicKey;
  return (inner ?? options) as T;
}

/**
 * Signs in with a passkey: the account's passkeys when an email is given, otherwise a
 * discoverable one. `autofill` waits for the browser's autofill UI (conditional mediation).
 */
export async function signInWithPasskey(autofill = false, email?: string): Promise<void> {
  const options = await run(api.POST('/api/auth/passkey/login/begin', { body: email ? { email } : {} }));
  const assertion = await startAuthentication({
    optionsJSON: publicKey<PublicKeyCredentialRequestOptionsJSON>(options),
    useBrowserAutofill: autofill,
  });
  // Exactly the fields the document states (the browser adds others the server does not use).
  const body: PasskeyAssertion = {
    id: assertion.id,
    rawId: assertion.rawId,
    type: assertion.type,
    response: {
      authenticatorData: assertion.response.authenticatorData,
      clientDataJSON: assertion.response.clientDataJSON,
      signature: assertion.response.signature,
      userHandle: assertion.response.userHandle ?? null,
    },
  };
  await run(api.POST('/api/auth/passkey/login/complete', { body }));
}

/** Adds a passkey to the signed-in account. */
export async function addPasskey(): Promise<void> {
  const options = await run(api.POST('/api/auth/passkey/register/begin', {}));
  // The server asks for a discoverable credential (residentKey preferred): what lets a buyer sign
  // in without typing an email, and what the browser offers in autofill.
  const credential = await startRegistration({ optionsJSON: publicKey<PublicKeyCredentialCreationOptionsJSON>(options) });
  const body: PasskeyAttestation = {
    id: credential.id,
    rawId: credential.rawId,
    type: credential.type,
    response: {
      attestationObject: credential.response.attestationObject,
      clientDataJSON: credential.response.clientDataJSON,
    },
  };
  await run(api.POST('/api/auth/passkey/register/complete', { body }));
}
