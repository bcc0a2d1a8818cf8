//! What verifying a SAML response costs: the whole ACS check (strict reading, XML signature with
//! libxmlsec1, every condition) of a typical response, signed on the assertion with RSA-2048 and
//! SHA-256: on one thread, then on one thread per core at once (as the ACS runs on a loaded
//! server). `cargo bench --bench saml_acs`; figures in docs/performance.md.
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
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for threads in [1, cores] {
        let run = Duration::from_secs(5);
        let started = Instant::now();
        let verified: u32 = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut verified = 0u32;
                        while started.elapsed() < run {
                            connector
                                .verify(&response, Some("id-bench"), now())
                                .expect("verifies");
                            verified += 1;
                        }
                        verified
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "saml_acs: {verified} responses ({} bytes base64) verified in {elapsed:.2} s on {threads} thread(s): {:.0} per second, {:.2} ms each per thread",
            response.len(),
            f64::from(verified) / elapsed,
            elapsed * 1000.0 * threads as f64 / f64::from(verified)
        );
    }
}
