//! A headless Chromium driven through chromedriver (WebDriver): Debian's `chromium` and
//! `chromium-driver`, which scripts/test.sh installs. Without them a test fails and says so; it
//! never skips. The window has a fixed size, so screenshots come out alike from run to run.

use crate::helpers::TestApp;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: the machines that run the tests may be small and busy.
pub const PATIENCE: Duration = Duration::from_secs(60);
pub const WIDE: (u32, u32) = (1280, 900);
pub const NARROW: (u32, u32) = (390, 844);

/// One chromedriver with one browser session; dropping it stops the driver and its browser.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// The chromedriver process, in a process group of its own with the browser it starts: dropping
/// it stops both, whether the test passed or panicked.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn program(env: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.into()));
    assert!(
        path.exists(),
        "{} not found: the browser tests need Debian's chromium and chromium-driver \
         (apt-get install -y chromium chromium-driver; scripts/test.sh installs them), \
         or {env} naming the program",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Driver {
    /// A chromedriver listening on a free port. The port is free when picked but may be taken
    /// before chromedriver binds it; a driver that exits at once is started again on another.
    async fn start(program: &std::path::Path) -> (Driver, u16) {
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(program);
            command
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // Its own process group, so stopping it stops the browser it started too.
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("chromedriver ({}) could not be started: {e}", program.display()));
            let mut driver = Driver(child);
            let deadline = Instant::now() + PATIENCE;
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return (driver, port);
                }
                if !matches!(driver.0.try_wait(), Ok(None)) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not listen on port {port} within {PATIENCE:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("chromedriver ({}) exited at start three times", program.display())
    }
}

impl Browser {
    pub async fn start() -> Browser {
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let (driver, port) = Driver::start(&program("CHROMEDRIVER", "/usr/bin/chromedriver")).await;
        let profile = tempfile::tempdir().expect("browser profile dir");
        let browser = Browser {
            client: connect(port, &chromium, &profile).await,
            _driver: driver,
            _profile: profile,
        };
        browser.resize(WIDE).await;
        browser
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.expect("window size");
    }

    /// Opens the dashboard at `route` (`#/…`). The view shown before is marked stale first, so
    /// a wait for the next view never finds the previous one (a new route may only change the
    /// address's fragment, which reloads nothing).
    pub async fn open(&self, app: &TestApp, route: &str) {
        self.client
            .execute(
                "const c = document.getElementById('content'); if (c) { c.dataset.view = 'stale'; }",
                vec![],
            )
            .await
            .expect("mark the view stale");
        self.client
            .goto(&app.url(&format!("/dashboard/{route}")))
            .await
            .expect("navigate");
    }

    /// The first element `css` selects, once it is there.
    pub async fn element(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within {PATIENCE:?}: {e}"))
    }

    /// Types `keys` into the first element `css` selects, once it is there.
    pub async fn type_into(&self, css: &str, keys: &str) {
        self.element(css)
            .await
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("could not type into {css}: {e}"));
    }

    /// Whether the page is no wider than the window (nothing to scroll sideways).
    pub async fn fits_its_width(&self) -> bool {
        let fits = self
            .client
            .execute(
                "const e = document.documentElement; return e.scrollWidth <= e.clientWidth;",
                vec![],
            )
            .await
            .expect("measure the page");
        fits == Value::Bool(true)
    }

    /// Clicks the first element `css` selects, once it is there.
    pub async fn click(&self, css: &str) {
        self.element(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("could not click {css}: {e}"));
    }

    /// The text of the first element `css` selects once it satisfies `ready`; panics with the
    /// last text seen when it does not within the patience.
    pub async fn text_when(&self, css: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(found) = self.client.find(Locator::Css(css)).await {
                // The element may be replaced between finding and reading it.
                if let Ok(text) = found.text().await {
                    if ready(&text) {
                        return text;
                    }
                    last = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never showed {what} within {PATIENCE:?}; last text: {last:?}")
    }

    /// Waits until the view the script loaded is `view` (`loaded`, `missing`, `sign-in`).
    pub async fn view(&self, view: &str) {
        self.element(&format!("#content[data-view=\"{view}\"]")).await;
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.expect("find").len()
    }

    /// Saves a PNG of the window under target/dashboard/; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("dashboard");
        std::fs::create_dir_all(&dir).expect("target/dashboard");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session, so the browser exits before its driver is stopped.
    pub async fn close(self) {
        self.client.clone().close().await.expect("close the browser");
    }
}

/// A session on the chromedriver listening at `port`.
async fn connect(port: u16, chromium: &std::path::Path, profile: &tempfile::TempDir) -> Client {
    let mut capabilities = Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                // Tests run as root in containers, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--no-first-run",
                "--disable-extensions",
                format!("--window-size={},{}", WIDE.0, WIDE.1),
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    capabilities.insert("pageLoadStrategy".into(), Value::from("normal"));
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Chromium ({}) could not be started through chromedriver: {e}",
                chromium.display()
            )
        })
}
