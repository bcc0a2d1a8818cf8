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
