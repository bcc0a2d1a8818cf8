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
