//! The browser suite: person-facing flows walked in a real headless Chromium (Debian's
//! `chromium` and `chromium-driver`, driven over W3C WebDriver with fantoccini), with idbridge on
//! `localhost` and every relying party, product and upstream IdP on another site (`127.0.0.1`,
//! `127.0.0.2`), so that the browser applies its cross-site rules — CSP, `SameSite`, framing —
//! as in production. HTTP clients ignore all of those; see docs/testing.md.
//!
//! These tests are `#[ignore]`d unless run by `scripts/test`, which installs Chromium and passes
//! `--include-ignored` (`scripts/test browser::` runs them alone).
mod driver;
mod flows;
mod hostile;
mod products;
mod relying_party;
mod saml_sp;
mod upstream;

pub use driver::Browser;
pub use relying_party::BrowserSetup;

/// Sends the browser from the relying party to idbridge with an authorization request and signs
/// in as Alice on the login page it shows.
pub async fn sign_in_for(
    browser: &Browser,
    setup: &BrowserSetup,
    scope: &str,
    state: &str,
    extra: &[(&str, &str)],
) {
    browser
        .goto(&setup.rp.authorize_url(scope, state, extra))
        .await;
    browser.find("#email").await;
    browser
        .sign_in(crate::support::ALICE_EMAIL, crate::support::ALICE_PASSWORD)
        .await;
}

/// An attacker's site that counts the requests it gets: a test of open redirects asserts that no
/// browser ever arrived, however late a redirect would have come.
pub struct Trap {
    pub base: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Trap {
    /// Listens on `ip`, on `port` (0: any).
    pub async fn start(ip: [u8; 4], port: u16) -> Trap {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), port))
            .await
            .expect("bind the trap");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "caught" }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Trap { base, hits }
    }

    /// The requests that reached the trap, after giving a late redirect a second to arrive.
    pub async fn hits(&self) -> usize {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}
