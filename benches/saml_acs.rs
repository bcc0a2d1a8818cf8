//! What verifying a SAML response costs: the whole ACS check (strict reading, XML signature with
//! libxmlsec1, every condition) of a typical response, signed on the assertion with RSA-2048 and
//! SHA-256, on one thread. `cargo bench --bench saml_acs`; figures in docs/performance.md.
//! Run by `cargo test --all-targets` (without `--bench`), it verifies one response and stops.
use std::time::{Duration, Instant};

#[allow(dead_code)] // the integration tests use more of the test IdP than this benchmark does
#[path = "../tests/it/saml_idp.rs"]
mod saml_idp;

use saml_idp::{IDP_ENTITY, IdpKey, SUCCESS, Signed, Spec, encode};

const ISSUER: &str = "https://id.example.com";

fn main() {
    let idp = IdpKey::generate();
    let connector = idp.connector(ISSUER);
    let acs = format!("{ISSUER}/saml/acme/acs");
    let response = encode(&idp.response(&Spec {
        in_response_to: Some("id-bench".into()),
        name_id: "alice@acme.test".into(),
        display_name: "Alice Acme".into(),
        issuer: IDP_ENTITY.into(),
        audience: format!("{ISSUER}/saml/acme"),
        recipient: acs.clone(),
        destination: acs,
        status: SUCCESS.into(),
        not_before: -60,
        not_on_or_after: 3600,
        signed: Signed::Assertion,
    }));
    let now = || chrono::Utc::now().timestamp();
    connector
        .verify(&response, Some("id-bench"), now())
        .expect("the benchmark response verifies");
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let run = Duration::from_secs(5);
    let started = Instant::now();
    let mut verified = 0u32;
    while started.elapsed() < run {
        connector
            .verify(&response, Some("id-bench"), now())
            .expect("verifies");
        verified += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "saml_acs: {verified} responses ({} bytes base64) verified in {elapsed:.2} s on one thread: {:.0} per second, {:.2} ms each",
        response.len(),
        f64::from(verified) / elapsed,
        elapsed * 1000.0 / f64::from(verified)
    );
}
