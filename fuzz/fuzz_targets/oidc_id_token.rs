//! An upstream OpenID provider's ID token and key set, as the callback of an upstream login takes
//! them: the token answer read as openidconnect reads it (its `id_token` parsed as a JWT), the ID
//! token checked by `upstream::oidc::verify` (allowed algorithms — the provider's asymmetric ones
//! only —, key choice, signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`) and its claims read
//! by `jwt_payload`; the key set read as the provider's `jwks_uri` answer and used both for an ID
//! token and, through `upstream::oidc::logout::signed_claims`, for a logout token (idbridge's own
//! key choice). The provider's ES256 key is made at start. The first byte picks what the rest is:
//!
//! - 0: the ID token as sent (it can only be refused: nothing the fuzzer writes is signed);
//! - 1: an ID token payload that the target signs with the provider's key (`{iss}`, `{now}` and
//!   `{nonce}` in it become the issuer, the time and the login's nonce), so the claim checks are
//!   reached; a token taken names the provider, this client and the nonce, and is not expired;
//! - 2: the provider's key set, with which a genuine ID token and a genuine logout token are
//!   checked; they are taken only if the set holds the provider's public key;
//! - 3: the provider's discovery document, with its genuine key set; a genuine token is taken
//!   only if the document names the token's issuer;
//! - 4: a JOSE header, a NUL byte and a payload, signed with the provider's key (placeholders as
//!   in 1) and checked both as an ID token and as a logout token: one taken says ES256 and names
//!   no critical extension (`crit`).
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge::upstream::oidc::{Metadata, jwt_payload, logout::signed_claims, verify};
use libfuzzer_sys::fuzz_target;
use openidconnect::core::{CoreJsonWebKeySet, CoreTokenResponse};
use openidconnect::{Nonce, TokenResponse};
use ring::rand::SystemRandom;
use ring::signature::EcdsaKeyPair;
use serde_json::json;

const ISSUER: &str = "https://op.example.com";
const CLIENT_ID: &str = "bridge";
const NONCE: &str = "n-0123456789abcdefghij";

struct Target {
    key: EcdsaKeyPair,
    /// The public key's coordinates as its JWK gives them.
    x: String,
    y: String,
    /// Discovery with the genuine key set.
    metadata: Metadata,
    /// The time every check runs at: when the target started.
    now: i64,
    /// An ID token and a logout token the provider signed at start, both valid at `now`.
    id_token: String,
    logout_token: String,
}

fn discovery() -> serde_json::Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/authorize"),
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256", "EdDSA", "HS256", "none"],
    })
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let (key, jwk) = idbridge_fuzz::provider_key();
        let x = jwk["x"].as_str().unwrap().to_string();
        let y = jwk["y"].as_str().unwrap().to_string();
        let keys = json!({ "keys": [jwk] });
        let metadata = serde_json::from_value::<Metadata>(discovery())
            .unwrap()
            .set_jwks(serde_json::from_value(keys).unwrap());
        let now = chrono::Utc::now().timestamp();
        let mut target = Target {
            key,
            x,
            y,
            metadata,
            now,
            id_token: String::new(),
            logout_token: String::new(),
        };
        target.id_token = target.sign(
            "JWT",
            &json!({
                "iss": ISSUER, "aud": CLIENT_ID, "sub": "alice", "nonce": NONCE,
                "iat": now, "exp": now + 3600, "email": "alice@example.com",
                "email_verified": true,
            })
            .to_string(),
        );
        target.logout_token = target.sign(
            "logout+jwt",
            &json!({
                "iss": ISSUER, "aud": CLIENT_ID, "sub": "alice", "iat": now, "jti": "j-1",
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            })
            .to_string(),
        );
        target
    })
}

impl Target {
    /// `payload` as a compact JWS signed with the provider's key.
    fn sign(&self, typ: &str, payload: &str) -> String {
        let head = json!({ "alg": "ES256", "kid": "k1", "typ": typ }).to_string();
        self.sign_with_header(&head, payload)
    }

    /// `payload` under the JOSE header `head`, signed with the provider's key.
    fn sign_with_header(&self, head: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(head),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// Whether the ID token `token` is taken, as the callback takes it: read from a token answer,
    /// then verified with `metadata`. A taken token's claims can be read.
    fn id_token_taken(&self, metadata: &Metadata, token: &str) -> bool {
        let answer = json!({ "access_token": "at", "token_type": "Bearer", "id_token": token });
        let Ok(answer) = serde_json::from_value::<CoreTokenResponse>(answer) else {
            return false;
        };
        let Some(id_token) = answer.id_token() else {
            return false;
        };
        let nonce = Nonce::new(NONCE.to_string());
        let taken = verify(CLIENT_ID, metadata, id_token, &nonce, self.now).is_ok();
        if taken {
            assert!(
                jwt_payload(&id_token.to_string()).is_some(),
                "the claims of a verified ID token cannot be read: {token}"
            );
        }
        taken
    }
}

fn run(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let target = target();
    let fill = |text: &str| {
        text.replace("{iss}", ISSUER)
            .replace("{now}", &target.now.to_string())
            .replace("{nonce}", NONCE)
    };
    match mode % 5 {
        0 => assert!(
            !target.id_token_taken(&target.metadata, rest),
            "an ID token the provider did not sign was taken: {rest}"
        ),
        1 => {
            let payload = fill(rest);
            let token = target.sign("JWT", &payload);
            if target.id_token_taken(&target.metadata, &token) {
                let claims = jwt_payload(&token).unwrap();
                assert_eq!(claims["iss"], ISSUER, "{payload}");
                let aud = &claims["aud"];
                assert!(
                    aud == CLIENT_ID
                        || aud
                            .as_array()
                            .is_some_and(|a| a.iter().any(|v| v == CLIENT_ID)),
                    "{payload}"
                );
                assert_eq!(claims["nonce"], NONCE, "{payload}");
                let exp = claims["exp"].as_f64().expect("an exp");
                assert!(exp > target.now as f64, "{payload}");
            }
        }
        2 => {
            // As `CoreJsonWebKeySet::fetch_async` reads the provider's answer.
            let Ok(keys) = serde_json::from_str::<CoreJsonWebKeySet>(rest) else {
                return;
            };
            let metadata = target.metadata.clone().set_jwks(keys);
            let id_taken = target.id_token_taken(&metadata, &target.id_token);
            let logout_taken = signed_claims(&metadata, &target.logout_token).is_ok();
            if id_taken || logout_taken {
                assert!(
                    rest.contains(&target.x) && rest.contains(&target.y),
                    "a token was taken with keys that do not hold the provider's: {rest}"
                );
            }
        }
        4 => {
            let Some((head, payload)) = rest.split_once('\0') else {
                return;
            };
            let token = target.sign_with_header(head, &fill(payload));
            let id_taken = target.id_token_taken(&target.metadata, &token);
            let logout_taken = signed_claims(&target.metadata, &token).is_ok();
            if id_taken || logout_taken {
                let header: serde_json::Value = serde_json::from_str(head).expect("a JSON header");
                assert_eq!(header["alg"], "ES256", "{head}");
                assert!(
                    header["crit"].is_null(),
                    "taken with critical extensions: {head}"
                );
            }
        }
        _ => {
            let Ok(metadata) = serde_json::from_str::<Metadata>(rest) else {
                return;
            };
            let metadata = metadata.set_jwks(target.metadata.jwks().clone());
            if target.id_token_taken(&metadata, &target.id_token) {
                assert_eq!(metadata.issuer().as_str(), ISSUER, "{rest}");
            }
            // Whatever the document says, a logout token is checked without a panic.
            let _ = signed_claims(&metadata, &target.logout_token);
        }
    }
}

// The key made and the tokens signed before the first input; a genuine token must be taken.
fuzz_target!(init: {
    let target = target();
    assert!(target.id_token_taken(&target.metadata, &target.id_token));
    assert!(signed_claims(&target.metadata, &target.logout_token).is_ok());
}, |data: &[u8]| run(data));
