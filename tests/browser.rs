//! Headless Chromium driven over the DevTools protocol, behind a blocking API: the live-page
//! tests open a report, move its controls with real input events and read the DOM back.
//!
//! [`chromiumoxide`] is async; a [`Browser`] owns the tokio runtime it runs on and the task
//! that polls its connection, so that a test is plain sequential code. Every call panics on
//! failure, with what the browser said: in a test that is the failure to report.
//!
//! Only for the tests marked `#[cfg_attr(not(has_chromium), ignore = ...)]`: the browser is
//! [`crate::chromium()`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::ExceptionDetails;
use chromiumoxide::error::CdpError;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// The window and viewport, in CSS pixels at a device scale of 1: wide enough for the report's
/// tables, and fixed, so that screenshots are comparable from run to run. The same for both: a
/// full-page screenshot ends the viewport's emulation, which leaves the window's size.
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;

/// How long closing the browser may take before it is killed instead.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A headless Chromium with a fresh profile, closed (and its process reaped) on drop.
#[derive(Debug)]
pub struct Browser {
    // Dropped before the runtime its process handle belongs to.
    browser: chromiumoxide::Browser,
    /// Polls the DevTools connection: every command's reply and every event goes through it.
    handler: JoinHandle<()>,
    runtime: Runtime,
    /// The user-data-dir, removed once the browser has exited.
    profile: PathBuf,
}

impl Browser {
    /// Starts [`crate::chromium()`] headless, without sandbox or GPU (as in containers and CI),
    /// with a 1400×1000 window and viewport.
    pub fn launch() -> Self {
        // One worker: the handler runs between calls too, so events are never left queued.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let profile = profile_dir();
        let config = chromiumoxide::BrowserConfig::builder()
            .chrome_executable(crate::chromium())
            .user_data_dir(&profile)
            .no_sandbox()
            .arg("disable-gpu")
            .window_size(WIDTH, HEIGHT)
            .viewport(Viewport {
                width: WIDTH,
                height: HEIGHT,
                device_scale_factor: Some(1.0),
                emulating_mobile: false,
                is_landscape: false,
                has_touch: false,
            })
            .build()
            .unwrap_or_else(|why| panic!("Chromium's configuration: {why}"));
        let (browser, mut handler) = runtime
            .block_on(chromiumoxide::Browser::launch(config))
            .unwrap_or_else(|why| panic!("cannot start {}: {why}", crate::chromium().display()));
        // The stream ends when the browser closes; an error means the connection is gone.
        let handler =
            runtime.spawn(async move { while let Some(Ok(())) = handler.next().await {} });
        Self {
            browser,
            handler,
            runtime,
            profile,
        }
    }

    /// A new tab at `file://PATH#FRAGMENT` (no `#` when `fragment` is empty), once the page
    /// has loaded: its inline scripts have run. `path` goes into the URL as it is, so it must
    /// hold nothing a URL would read otherwise (`#`, `?`, `%`).
    pub fn open(&self, path: &Path, fragment: &str) -> Page<'_> {
        assert!(path.is_absolute(), "{} is not absolute", path.display());
        let mut url = format!("file://{}", path.display());
        if !fragment.is_empty() {
            url = format!("{url}#{fragment}");
        }
        let page = self.block_on(async {
            // `new_page` does not wait for its URL to load; `goto` waits for the load event.
            let page = self.browser.new_page("about:blank").await?;
            page.goto(url.as_str()).await?;
            Ok::<_, CdpError>(page)
        });
        let page = page.unwrap_or_else(|why| panic!("cannot open {url}: {why}"));
        Page {
            browser: self,
            page,
        }
    }

    fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let browser = &mut self.browser;
        self.runtime.block_on(async {
            // Closing lets Chromium end its own helper processes; killing is the fallback.
            let closed = tokio::time::timeout(CLOSE_TIMEOUT, async {
                browser.close().await.is_ok() && browser.wait().await.is_ok()
            })
            .await;
            if !matches!(closed, Ok(true)) {
                // Kills and reaps the process.
                let _ = browser.kill().await;
            }
        });
        self.handler.abort();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A fresh user-data-dir for each browser, so that parallel tests share no profile.
fn profile_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "flopscope-chromium-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A tab of a [`Browser`].
#[derive(Debug)]
pub struct Page<'b> {
    browser: &'b Browser,
    page: chromiumoxide::Page,
}

impl Page<'_> {
    /// The value of the JavaScript expression `js`, once the promise it gives (if any) has
    /// settled, deserialised from JSON: numbers beyond 2^53 lose precision, so read exact
    /// integers as strings (`el.dataset.v`).
    ///
    /// Panics with the exception's text when `js` throws.
    pub fn eval<T: DeserializeOwned>(&self, js: &str) -> T {
        let result = self
            .browser
            .block_on(self.page.evaluate_expression(js))
            .unwrap_or_else(|why| match why {
                CdpError::JavascriptException(details) => {
                    panic!("{js}\nthrew {}", exception_text(&details))
                }
                why => panic!("{js}\nfailed: {why}"),
            });
        let value = result.value().cloned();
        result
            .into_value()
            .unwrap_or_else(|why| panic!("{js}\ngave {value:?}: {why}"))
    }

    /// Clicks the middle of the first element matching `css`, with the mouse, after scrolling it
    /// into view. Finding and clicking are two protocol calls: when the page drew the element
    /// again in between (a chart redrawn on resize), the new one is found and clicked.
    pub fn click(&self, css: &str) {
        let click = || async { self.page.find_element(css).await?.click().await.map(drop) };
        self.browser
            .block_on(async {
                match click().await {
                    Err(CdpError::Chrome(e)) if e.message.contains("Could not find node") => {
                        click().await
                    }
                    done => done,
                }
            })
            .unwrap_or_else(|why| panic!("cannot click {css}: {why}"));
    }

    /// Focuses the first element matching `css` and presses `key` (a DOM key name:
    /// `ArrowRight`, `Enter`, `a`), as a key-down and a key-up: the browser's default action
    /// follows, as for a user's key (a range input moves a step and fires `input`).
    pub fn press_key(&self, css: &str, key: &str) {
        self.browser
            .block_on(async {
                let element = self.page.find_element(css).await?;
                element.focus().await?.press_key(key).await.map(drop)
            })
            .unwrap_or_else(|why| panic!("cannot press {key} in {css}: {why}"));
    }

    /// Focuses the first element matching `css`, selects its text and types `text` over it, a key
    /// at a time. Nothing commits it: `change` fires on `Enter` ([`Page::press_key`]) or blur.
    pub fn type_into(&self, css: &str, text: &str) {
        self.browser
            .block_on(async {
                let element = self.page.find_element(css).await?;
                element
                    .call_js_fn("function() { this.focus(); this.select(); }", false)
                    .await?;
                element.type_str(text).await.map(drop)
            })
            .unwrap_or_else(|why| panic!("cannot type into {css}: {why}"));
    }

    /// A PNG of the whole page (beyond the viewport too), written to
    /// `TARGET/screenshots/NAME.png` for a person to look at; its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|why| panic!("cannot create {}: {why}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build();
        self.browser
            .block_on(self.page.save_screenshot(params, &path))
            .unwrap_or_else(|why| panic!("cannot take {}: {why}", path.display()));
        path
    }
}

/// What a page's exception says: `TypeError: … at …` when the page threw an error, else the
/// protocol's summary (`Uncaught`).
fn exception_text(details: &ExceptionDetails) -> String {
    details
        .exception
        .as_ref()
        .and_then(|e| e.description.clone())
        .unwrap_or_else(|| details.text.clone())
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace root), else
/// the workspace's `target/`.
fn target_dir() -> PathBuf {
    let root = crate::workspace_root();
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| root.join("target"), |d| root.join(d))
}
