//! Decides, when the tests are built, which optional test dependencies are present
//! (PostgreSQL, Django, Chromium, nginx, Node's openid-client), so a test that cannot run
//! is reported as ignored with its reason instead of passing without running.
//! libtest has no way to skip at run time; `#[cfg_attr(not(...), ignore = "...")]` on these
//! cfgs is the one honest report it prints in the default output.
//!
//! Under CI (`CI` set) every cfg is on whatever is installed: the tests then run and fail
//! loudly on what is missing, because CI must test everything.
use std::path::Path;

/// Where Debian's chromium-driver puts the driver (the first found is used).
const CHROMEDRIVERS: [&str; 2] = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];
/// The browser tests/api/browser.rs asks the driver to start.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's nginx package puts the server tests/api/nginx.rs runs.
const NGINX: &str = "/usr/sbin/nginx";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for var in [
        "CI",
        "TESSERA_TEST_POSTGRES_URL",
        "TESSERA_TEST_DJANGO_PYTHON",
        "TESSERA_TEST_OPENID_CLIENT",
        "TESSERA_TEST_SMTP_PYTHON",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // Installing or removing the packages changes /usr/bin (both packages put a file
    // there); a path that does not exist cannot be watched without rerunning every build.
    for path in CHROMEDRIVERS
        .iter()
        .chain([&CHROMIUM, &NGINX, &"/usr/bin", &"/usr/sbin"])
    {
        if Path::new(path).exists() {
            println!("cargo::rerun-if-changed={path}");
        }
    }

    let ci = std::env::var_os("CI").is_some();
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());

    for cfg in [
        "tessera_test_postgres",
        "tessera_test_django",
        "tessera_test_browser",
        "tessera_test_nginx",
        "tessera_test_openid_client",
        "tessera_test_smtp",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    if ci || set("TESSERA_TEST_POSTGRES_URL") {
        println!("cargo::rustc-cfg=tessera_test_postgres");
    }
    if ci || set("TESSERA_TEST_DJANGO_PYTHON") {
        println!("cargo::rustc-cfg=tessera_test_django");
    }
    if ci || set("TESSERA_TEST_SMTP_PYTHON") {
        println!("cargo::rustc-cfg=tessera_test_smtp");
    }
    let driver = CHROMEDRIVERS.into_iter().find(|p| Path::new(p).exists());
    if let Some(driver) = driver.filter(|_| Path::new(CHROMIUM).exists()) {
        println!("cargo::rustc-env=TESSERA_TEST_CHROMEDRIVER={driver}");
        println!("cargo::rustc-cfg=tessera_test_browser");
    } else if ci {
        println!("cargo::rustc-cfg=tessera_test_browser");
    }
    // panva's openid-client (Node), installed by scripts/test where this variable points.
    if ci || set("TESSERA_TEST_OPENID_CLIENT") {
        println!("cargo::rustc-cfg=tessera_test_openid_client");
    }
    if ci || Path::new(NGINX).exists() {
        println!("cargo::rustc-cfg=tessera_test_nginx");
    }
}
