//! Signature verification by the runtime's WebCrypto, for the asymmetric JWT algorithms.
//!
//! Compiling Ed25519, ECDSA and RSA into the module would add to every cold start; the runtime
//! verifies all of them natively. Imported keys are cached on the JavaScript side per key and
//! algorithm (a `CryptoKey` is plain data, not a request-bound I/O object).

use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
const PARAMETERS = {
  EdDSA: [{ name: 'Ed25519' }, { name: 'Ed25519' }],
  ES256: [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
  ES512: [{ name: 'ECDSA', namedCurve: 'P-521' }, { name: 'ECDSA', hash: 'SHA-512' }],
  RS256: [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
  PS256: [{ name: 'RSA-PSS', hash: 'SHA-256' }, { name: 'RSA-PSS', saltLength: 32 }],
};
const imported = new Map();
export async function verifyJws(jwk, alg, data, signature) {
  // Copies first: the views point into wasm memory, which may move while this awaits.
  const message = data.slice();
  const proof = signature.slice();
  const [importParameters, verifyParameters] = PARAMETERS[alg];
  const id = alg + ' ' + jwk;
  let key = imported.get(id);
  if (!key) {
    key = await crypto.subtle.importKey('jwk', JSON.parse(jwk), importParameters, false, ['verify']);
    if (imported.size >= 32) imported.delete(imported.keys().next().value);
    imported.set(id, key);
  }
  return crypto.subtle.verify(verifyParameters, key, proof, message);
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = verifyJws)]
    fn verify_jws(
        jwk: &str,
        alg: &str,
        data: &[u8],
        signature: &[u8],
    ) -> Result<worker::js_sys::Promise, JsValue>;
}

/// Whether `signature` is `alg`'s signature of `data` under the public key `jwk` (JSON).
/// An error means WebCrypto refused the key or the parameters.
pub async fn verify(jwk: &str, alg: &str, data: &[u8], signature: &[u8]) -> Result<bool, String> {
    let describe =
        |error: JsValue| crate::runtime::js::error_message(&error, "unknown WebCrypto error");
    let promise = verify_jws(jwk, alg, data, signature).map_err(describe)?;
    let verdict = JsFuture::from(promise).await.map_err(describe)?;
    Ok(verdict.as_bool() == Some(true))
}
