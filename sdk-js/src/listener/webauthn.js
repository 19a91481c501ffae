/**
 * WebAuthn JSON <-> browser objects. The backend sends options as produced by
 * py_webauthn's `options_to_json` (binary fields base64url-encoded) and expects
 * credentials back in the same JSON form (PublicKeyCredential.toJSON()).
 */

/**
 * @param {ArrayBuffer | ArrayBufferView} bytes
 * @returns {string} base64url without padding
 */
export function toBase64url(bytes) {
  const view = ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes)
  let binary = ''
  for (const byte of view) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * @param {string} text base64url, padded or not
 * @returns {ArrayBuffer}
 */
export function fromBase64url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0)).buffer
}

const decodeDescriptors = (list) =>
  (list || []).map((descriptor) => ({ ...descriptor, id: fromBase64url(descriptor.id) }))

/**
 * @param {Record<string, any>} json registration options from the backend
 * @returns {PublicKeyCredentialCreationOptions}
 */
export function toCreationOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: decodeDescriptors(json.excludeCredentials),
  }
}

/**
 * @param {Record<string, any>} json authentication options from the backend
 * @returns {PublicKeyCredentialRequestOptions}
 */
export function toRequestOptions(json) {
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: decodeDescriptors(json.allowCredentials),
  }
}

const common = (credential) => ({
  id: credential.id,
  rawId: toBase64url(credential.rawId),
  type: credential.type,
  authenticatorAttachment: credential.authenticatorAttachment ?? null,
  clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
})

/**
 * @param {PublicKeyCredential} credential from navigator.credentials.create
 * @returns {Record<string, any>} RegistrationResponseJSON
 */
export function registrationToJSON(credential) {
  const response = /** @type {AuthenticatorAttestationResponse} */ (credential.response)
  return {
    ...common(credential),
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      transports: response.getTransports?.() ?? [],
    },
  }
}

/**
 * @param {PublicKeyCredential} credential from navigator.credentials.get
 * @returns {Record<string, any>} AuthenticationResponseJSON
 */
export function authenticationToJSON(credential) {
  const response = /** @type {AuthenticatorAssertionResponse} */ (credential.response)
  return {
    ...common(credential),
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    },
  }
}
