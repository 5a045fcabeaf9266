//! A software authenticator for the WebAuthn tests: one P-256 key, "none" attestation, a sign
//! counter, and client data for the origin it is told it runs on. It answers the options a
//! flow carries the way a browser and an authenticator together would.

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct SoftAuthenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub counter: u32,
    /// The user handle it keeps for discoverable sign-ins (set at registration).
    pub user_handle: Vec<u8>,
    pub origin: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// CBOR, as much of it as attestation objects and COSE keys need.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(&'static str),
    Map(Vec<(Cbor, Cbor)>),
}

fn head(major: u8, value: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend([major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((value as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend((value as u32).to_be_bytes());
        }
    }
}

impl Cbor {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(value) if *value >= 0 => head(0, *value as u64, out),
            Cbor::Int(value) => head(1, (-1 - *value) as u64, out),
            Cbor::Bytes(bytes) => {
                head(2, bytes.len() as u64, out);
                out.extend(bytes);
            }
            Cbor::Text(text) => {
                head(3, text.len() as u64, out);
                out.extend(text.as_bytes());
            }
            Cbor::Map(entries) => {
                head(5, entries.len() as u64, out);
                for (key, value) in entries {
                    key.encode(out);
                    value.encode(out);
                }
            }
        }
    }
}

impl SoftAuthenticator {
    pub fn new(seed: u8, origin: &str) -> Self {
        let key = SigningKey::from_slice(&[seed.max(1); 32]).unwrap();
        Self {
            key,
            credential_id: vec![seed; 16],
            counter: 0,
            user_handle: Vec::new(),
            origin: origin.to_string(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, rp_id: &str, flags: u8, attested: Option<Vec<u8>>) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        if let Some(attested) = attested {
            data.extend(attested);
        }
        data
    }

    /// Answers `navigator.credentials.create` for `options` (`{"publicKey": …}`): the JSON a
    /// browser submits in `webauthn_register` / `passkey_register`.
    pub fn create(&mut self, options: &Value) -> String {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().unwrap();
        self.user_handle = unb64(public_key["user"]["id"].as_str().unwrap());
        let point = self.key.verifying_key().to_sec1_point(false);
        let cose = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(3), Cbor::Int(-7)),
            (Cbor::Int(-1), Cbor::Int(1)),
            (Cbor::Int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ]);
        let mut attested = vec![0u8; 16];
        attested.extend((self.credential_id.len() as u16).to_be_bytes());
        attested.extend(&self.credential_id);
        cose.encode(&mut attested);
        // User present, user verified, attested credential data.
        let auth_data = self.auth_data(rp_id, 0x01 | 0x04 | 0x40, Some(attested));
        let mut object = Vec::new();
        Cbor::Map(vec![
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(Vec::new())),
            (Cbor::Text("authData"), Cbor::Bytes(auth_data)),
        ])
        .encode(&mut object);
        let challenge = public_key["challenge"].as_str().unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&object),
                "clientDataJSON": b64(&self.client_data("webauthn.create", challenge)),
            },
        })
        .to_string()
    }

    /// Answers `navigator.credentials.get` for `options`: the JSON a browser submits in
    /// `webauthn_login` / `passkey_login`. The counter moves on first.
    pub fn get(&mut self, options: &Value, rp_id: &str) -> String {
        self.counter += 1;
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let auth_data = self.auth_data(rp_id, 0x01 | 0x04, None);
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
        })
        .to_string()
    }
}
