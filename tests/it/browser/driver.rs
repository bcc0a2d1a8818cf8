//! One headless Chromium per test, through its own chromedriver process.
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to get where a test expects it.
const PATIENCE: Duration = Duration::from_secs(20);

/// Browsers are heavy for a 2-core machine: at most two run at once, whatever the test
/// harness's parallelism.
static SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(2)));

pub const DESKTOP: (u32, u32) = (1280, 800);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
    _slot: OwnedSemaphorePermit,
}

impl Browser {
    /// Starts chromedriver and a fresh Chromium profile (no cookies, no cache).
    pub async fn start() -> Browser {
        let slot = SLOTS.clone().acquire_owned().await.expect("semaphore");
        let profile = tempfile::tempdir().expect("profile dir");
        // chromedriver cannot be told to pick its own port and report it, so take a free one;
        // another process may grab it first, in which case try again.
        for _ in 0..5 {
            let port = free_port();
            let Some(driver) = spawn_driver(port).await else {
                continue;
            };
            // chromedriver listens on plain http on loopback: no TLS stack needed.
            let client = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities(&profile))
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .expect(
                    "a Chromium session (is Debian's chromium installed? scripts/test installs it)",
                );
            client
                .set_window_size(DESKTOP.0, DESKTOP.1)
                .await
                .expect("window size");
            return Browser {
                client: Some(client),
                driver,
                _profile: profile,
                _slot: slot,
            };
        }
        panic!("chromedriver did not start");
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open browser")
    }

    pub async fn goto(&self, url: &str) {
        self.client().goto(url).await.expect("navigate");
    }

    pub async fn url(&self) -> url::Url {
        self.client().current_url().await.expect("current URL")
    }

    /// Waits until the page's URL satisfies `wanted`, and returns it.
    pub async fn wait_for_url(&self, what: &str, wanted: impl Fn(&url::Url) -> bool) -> url::Url {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = self.url().await;
            if wanted(&url) {
                return url;
            }
            if tokio::time::Instant::now() > deadline {
                let text = self.text("body").await.unwrap_or_default();
                panic!("the browser never reached {what}; it is at {url}, showing:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the browser is on `origin` (`http://127.0.0.1:4000`) at `path`.
    pub async fn wait_at(&self, origin: &str, path: &str) -> url::Url {
        self.wait_for_url(&format!("{origin}{path}"), |url| {
            url.origin().ascii_serialization() == origin && url.path() == path
        })
        .await
    }

    /// The element `css` names, once it is there.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        tokio::time::timeout(
            PATIENCE,
            self.client()
                .wait()
                .forever()
                .for_element(Locator::Css(css)),
        )
        .await
        .unwrap_or_else(|_| panic!("no `{css}` within {PATIENCE:?}"))
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
    }

    /// Waits until `css` names no element (the page that had one was replaced); whether it went
    /// within the patience.
    pub async fn gone(&self, css: &str) -> bool {
        let waited = tokio::time::timeout(PATIENCE, async {
            while self.has(css).await {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        });
        waited.await.is_ok()
    }

    /// Whether `css` names an element now (no waiting).
    pub async fn has(&self, css: &str) -> bool {
        self.client().find(Locator::Css(css)).await.is_ok()
    }

    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client().find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Types into the login page and presses "Sign in".
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form[action='/sso/v2/login'] button[type=submit]")
            .await;
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        self.client()
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// A computed style property of the first element `css` names.
    pub async fn style(&self, css: &str, property: &str) -> String {
        self.find(css)
            .await
            .css_value(property)
            .await
            .expect("computed style")
    }

    /// Saves the page at desktop and at phone size into `target/screenshots/<name>-*.png`.
    pub async fn screenshot(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        for (label, (width, height)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.set_viewport(width, height).await;
            let png = self.client().screenshot().await.expect("screenshot");
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).expect("save screenshot");
        }
        self.client()
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("window size");
    }

    /// Sizes the window so that the page itself (the viewport) is `width` × `height`.
    async fn set_viewport(&self, width: u32, height: u32) {
        self.client()
            .set_window_size(width, height)
            .await
            .expect("window size");
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight]")
            .await;
        let (inner_width, inner_height) = (
            inner[0].as_u64().expect("width") as u32,
            inner[1].as_u64().expect("height") as u32,
        );
        self.client()
            .set_window_size(width * 2 - inner_width, height * 2 - inner_height)
            .await
            .expect("window size");
    }

    /// Opens a new tab and switches to it; returns the handle of the tab left.
    pub async fn new_tab(&self) -> fantoccini::wd::WindowHandle {
        let here = self.client().window().await.expect("window");
        let tab = self.client().new_window(true).await.expect("new tab");
        self.client()
            .switch_to_window(tab.handle)
            .await
            .expect("switch");
        here
    }

    pub async fn switch_to(&self, window: fantoccini::wd::WindowHandle) {
        self.client()
            .switch_to_window(window)
            .await
            .expect("switch");
    }

    /// Enters the page's first frame (for checking what a framed page shows).
    pub async fn enter_frame(&self) {
        self.client().enter_frame(0).await.expect("enter frame");
    }

    /// Ends the session (Chromium quits) and chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.ok();
        }
        self.driver.kill().await.ok();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked never reached `close`: end chromedriver and the Chromium it
        // started (one process group) so that nothing outlives the test.
        if let Some(pid) = self.driver.id() {
            // SAFETY: kill(2) on a process group this test created.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}

pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn spawn_driver(port: u16) -> Option<Child> {
    let mut child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect(
            "run chromedriver (is Debian's chromium-driver installed? scripts/test installs it)",
        );
    // Ready once it answers on its port.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(child);
        }
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    child.kill().await.ok();
    None
}

fn capabilities(profile: &tempfile::TempDir) -> serde_json::Map<String, Value> {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
    });
    caps.as_object().expect("object").clone()
}
