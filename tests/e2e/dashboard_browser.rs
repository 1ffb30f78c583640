//! The dashboard in a real browser: `cardbatch run` as a child process against the sandbox,
//! headless Chromium driven through chromedriver (WebDriver). It logs in with a token, uploads
//! a CSV, watches the batch page until every order is `issued` (the sandbox's signed UQPAY
//! webhooks aimed at the server, verified with the built-in sandbox secret), pauses and resumes
//! the batch (through the confirmation), sees that a viewer gets no control button and no
//! upload link and is refused (403) when it posts anyway, and saves screenshots of the pages
//! (1280 px and phone width) under `target/e2e-dashboard/`.
//! Skipped (with a line saying so) when `chromium` or `chromedriver` is not installed.

use crate::support::{RunProcess, TestDb, csv, profile, start_sandbox, wait_until, write_config};
use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::SandboxConfig;
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

on_both_engines!(an_operator_uploads_watches_pauses_and_resumes_in_a_browser);

const WAIT: Duration = Duration::from_secs(60);

/// A child process killed with the test.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Saves the page as `target/e2e-dashboard/<engine>/<name>.png`.
async fn screenshot(browser: &Client, engine: &str, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/e2e-dashboard")
        .join(engine);
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The page's text; empty while the page is being replaced (a click's navigation).
async fn text(browser: &Client) -> String {
    match browser.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the page shows `needle` (the navigation a click started has ended).
async fn wait_for_text(browser: &Client, needle: &str) {
    wait_until(needle, WAIT, || async {
        text(browser).await.contains(needle)
    })
    .await;
}

/// Clicks the element `css` finds.
async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Fills the log-in form with `token` and sends it.
async fn log_in(browser: &Client, token: &str) {
    let field = browser
        .find(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    click(browser, "form[action=\"/login\"] button").await;
}

/// Sends `file` from the upload page.
async fn upload(browser: &Client, base: &str, file: &std::path::Path) {
    browser.goto(&format!("{base}/upload")).await.unwrap();
    let input = browser
        .find(Locator::Css("input[type=file]"))
        .await
        .unwrap();
    input.send_keys(file.to_str().unwrap()).await.unwrap();
    click(browser, "#upload button").await;
}

/// Clicks the control `action` on the batch page and accepts its confirmation.
async fn control(browser: &Client, action: &str) {
    click(browser, &format!("button[value=\"{action}\"]")).await;
    browser.accept_alert().await.unwrap();
}

/// Posts from the page, as a script of it could (same origin, the session cookie, the page's
/// CSRF token): `path` with the form `fields` (`csrf` added), multipart when `multipart`.
/// Returns the HTTP status.
async fn post_from_page(browser: &Client, path: &str, multipart: bool) -> u16 {
    let script = r#"
        const [path, multipart, done] = arguments;
        const csrf = document.querySelector('input[name=csrf]').value;
        let body;
        if (multipart) {
            body = new FormData();
            body.append('csrf', csrf);
            body.append('profile', 'uqpay');
            body.append('file', new Blob(['order_ref\n'], {type: 'text/csv'}), 'orders.csv');
        } else {
            body = new URLSearchParams({csrf});
        }
        fetch(path, {method: 'POST', body, redirect: 'manual'}).then(r => done(r.status));
    "#;
    let status = browser
        .execute_async(script, vec![path.into(), multipart.into()])
        .await
        .unwrap();
    status.as_u64().expect("a status") as u16
}

/// The number in the reconciliation summary's row `label`.
async fn reconciled(browser: &Client, label: &str) -> String {
    let rows = browser
        .find_all(Locator::Css("#reconciliation tr"))
        .await
        .unwrap();
    for row in rows {
        let th = row
            .find(Locator::Css("th"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if th == label {
            return row
                .find(Locator::Css("td"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        }
    }
    panic!("no reconciliation row {label}");
}

async fn an_operator_uploads_watches_pauses_and_resumes_in_a_browser(db: TestDb) {
    if !installed("chromium") || !installed("chromedriver") {
        println!(
            "skipped: chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        );
        return;
    }
    // Arrange: `cardbatch run` on a known port; the sandbox finishes each card 10 ms after its
    // creation (1 s scaled by 0.01) and sends its webhook there, signed with the built-in
    // sandbox secret, which the profile takes for `webhook_secret` (a variable left unset, a
    // loopback sandbox profile); an operator token.
    let engine = if db.url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let kind = ProviderKind::Uqpay;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let sandbox = start_sandbox(SandboxConfig {
        time_scale: 0.01,
        cardbatch_url: Some(base.clone()),
        ..SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &db.url,
        &profile(kind, &sandbox.addr().to_string()),
        30,
    );
    let mut toml: toml::Value = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    toml["server"]["listen"] = toml::Value::String(format!("127.0.0.1:{port}"));
    toml["profiles"]["uqpay"]["credentials_env"]
        .as_table_mut()
        .unwrap()
        .insert(
            "webhook_secret".into(),
            "E2E_DASHBOARD_UNSET_WEBHOOK_SECRET".into(),
        );
    std::fs::write(&config, toml::to_string(&toml).unwrap()).unwrap();
    let token = Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .arg("--config")
        .arg(&config)
        .args(["token", "create", "--name", "browser", "--role", "operator"])
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let _run = RunProcess::command(&config, "run", &[kind], dir.path().join("run.log"));
    wait_until("the server", WAIT, || async {
        reqwest::get(format!("{base}/health")).await.is_ok()
    })
    .await;
    let driver_port = free_port();
    let _driver = Child(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver = format!("http://127.0.0.1:{driver_port}");
    wait_until("chromedriver", WAIT, || async {
        reqwest::get(format!("{driver}/status")).await.is_ok()
    })
    .await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]}),
    );
    let browser = ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver)
        .await
        .expect("a WebDriver session");
    let orders = dir.path().join("orders.csv");
    std::fs::write(&orders, csv(kind, "web", 3, &[])).unwrap();
    let refused = dir.path().join("refused.csv");
    std::fs::write(&refused, format!("{}bad-line\n", csv(kind, "ref", 2, &[]))).unwrap();

    // Act + Assert: log in.
    browser.goto(&base).await.unwrap();
    screenshot(&browser, engine, "login").await;
    log_in(&browser, &token).await;
    wait_for_text(&browser, "Log out").await;

    // Upload: the new batch's page.
    upload(&browser, &base, &orders).await;
    wait_for_text(&browser, "Batch ").await;
    let batch_url = browser.current_url().await.unwrap().to_string();
    assert!(batch_url.contains("/batches/"), "{batch_url}");

    screenshot(&browser, engine, "batch-new").await;

    // The browser watches the batch page until every order is issued, confirmed by webhook.
    wait_until("every order of the batch to be issued", WAIT, || async {
        browser.goto(&batch_url).await.unwrap();
        text(&browser).await.contains("3 · issued: 3")
    })
    .await;
    assert_eq!(
        reconciled(&browser, "Issued, confirmed by webhook").await,
        "3"
    );
    assert_eq!(
        reconciled(&browser, "Submitted, awaiting confirmation").await,
        "0"
    );
    assert_eq!(reconciled(&browser, "Mismatches").await, "0");
    screenshot(&browser, engine, "batch").await;

    // Pause and resume, each through its confirmation.
    control(&browser, "pause").await;
    wait_for_text(&browser, "resume").await;
    let state = browser
        .find(Locator::Id("state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(state, "paused");
    screenshot(&browser, engine, "batch-paused").await;
    control(&browser, "resume").await;
    // The button, not the word: a paused page says `paused`.
    wait_until("the pause button", WAIT, || async {
        browser
            .find(Locator::Css("button[value=\"pause\"]"))
            .await
            .is_ok()
    })
    .await;
    let state = browser
        .find(Locator::Id("state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(state, "active");

    // The other pages, at 1280 px and at a phone's width; the upload form with a line error.
    for (width, height, suffix) in [(1280, 900, ""), (390, 844, "-phone")] {
        browser.set_window_size(width, height).await.unwrap();
        browser.goto(&base).await.unwrap();
        wait_for_text(&browser, "Batches").await;
        screenshot(&browser, engine, &format!("batches{suffix}")).await;
        assert_fits(&browser, "batches", width).await;
        browser.goto(&batch_url).await.unwrap();
        wait_for_text(&browser, "Reconciliation").await;
        screenshot(&browser, engine, &format!("batch{suffix}")).await;
        assert_fits(&browser, "orders", width).await;
        browser.goto(&format!("{base}/lanes")).await.unwrap();
        wait_for_text(&browser, "Provider lanes").await;
        screenshot(&browser, engine, &format!("lanes{suffix}")).await;
        assert_fits(&browser, "lanes", width).await;
        browser.goto(&format!("{base}/schedules")).await.unwrap();
        wait_for_text(&browser, "Schedules").await;
        screenshot(&browser, engine, &format!("schedules{suffix}")).await;
        assert_fits(&browser, "schedules", width).await;
        upload(&browser, &base, &refused).await;
        wait_for_text(&browser, "nothing was queued").await;
        screenshot(&browser, engine, &format!("upload{suffix}")).await;
        assert_fits(&browser, "line-errors", width).await;
    }
    browser.set_window_size(1280, 900).await.unwrap();

    // A viewer sees the batch but no control.
    let viewer = Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .arg("--config")
        .arg(&config)
        .args(["token", "create", "--name", "watcher", "--role", "viewer"])
        .output()
        .unwrap();
    assert!(viewer.status.success());
    let viewer = String::from_utf8(viewer.stdout).unwrap().trim().to_string();
    click(&browser, "form[action=\"/logout\"] button").await;
    wait_until("the log-in form", WAIT, || async {
        browser
            .find(Locator::Css("input[name=token]"))
            .await
            .is_ok()
    })
    .await;
    log_in(&browser, &viewer).await;
    wait_for_text(&browser, "watcher (viewer)").await;
    browser.goto(&batch_url).await.unwrap();
    wait_for_text(&browser, "Orders").await;
    let buttons = browser
        .find_all(Locator::Css("button[name=action]"))
        .await
        .unwrap();
    assert!(
        buttons.is_empty(),
        "a viewer sees {} control buttons",
        buttons.len()
    );
    let upload_links = browser
        .find_all(Locator::Css("a[href=\"/upload\"]"))
        .await
        .unwrap();
    assert!(upload_links.is_empty(), "a viewer sees the upload link");
    screenshot(&browser, engine, "batch-viewer").await;

    // Posted anyway (the page's own CSRF token), a control and an upload are refused.
    let resume = post_from_page(&browser, &format!("{batch_url}/pause"), false).await;
    let upload = post_from_page(&browser, "/upload", true).await;
    assert_eq!(resume, 403);
    assert_eq!(upload, 403);
    browser.goto(&batch_url).await.unwrap();
    let state = browser
        .find(Locator::Id("state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(state, "active");
    browser.close().await.unwrap();
}

/// The table `#id` fits the window: nothing to scroll sideways for, even on a phone.
async fn assert_fits(browser: &Client, id: &str, width: u32) {
    let overflow = browser
        .execute(
            "const w = document.getElementById(arguments[0]).parentElement; \
             return w.scrollWidth - w.clientWidth;",
            vec![id.into()],
        )
        .await
        .unwrap();
    assert_eq!(overflow.as_i64(), Some(0), "the {id} table at {width} px");
}
