//! RFC 9700 §4.2 (Referer leakage) and §4.7 (CSRF) across every page and form Tessera
//! serves. The pages are found by following the links of the signed-in console and account
//! pages, and the forms are read from the pages themselves, so a new page without the
//! header or a new form without a CSRF check fails here without anyone listing it.
use std::collections::{BTreeMap, BTreeSet};

use crate::admin::{Console, ROOT, audit_actions, create_admin};
use crate::flow::{self, Browser, Page, auth_url, unescape};
use crate::helpers::TestApp;
use crate::on_both_backends;

/// A POST form read from a page: where it posts, and its named fields with their values.
#[derive(Debug, Clone)]
struct Form {
    found_on: String,
    action: String,
    fields: Vec<(String, String)>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    tag.find(&key).map(|i| {
        let rest = &tag[i + key.len()..];
        unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
    })
}

/// Every `method="post"` form of `html`, with its inputs, selects, textareas and buttons.
fn post_forms(found_on: &str, html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let open = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        if !attr(open, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let body = &chunk[..chunk.find("</form>").unwrap_or(chunk.len())];
        let action = attr(open, "action").unwrap_or_else(|| found_on.to_owned());
        let mut fields = Vec::new();
        for element in ["<input", "<button", "<select", "<textarea"] {
            for tag in body.split(element).skip(1) {
                let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
                if let Some(name) = attr(tag, "name") {
                    let value = attr(tag, "value").unwrap_or_else(|| "x".to_owned());
                    fields.push((name, value));
                }
            }
        }
        forms.push(Form {
            found_on: found_on.to_owned(),
            action,
            fields,
        });
    }
    forms
}

/// Same-site links of `html` worth visiting (not static files, not signing out by GET).
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| unescape(&rest[..rest.find('"').unwrap_or(rest.len())]))
        .filter(|l| l.starts_with('/') && !l.starts_with("/static/") && !l.starts_with("//"))
        .collect()
}

/// GET `start` and every page linked from it (same site, under `within`), as `browser`.
async fn crawl(browser: &Browser, start: &[&str], within: &[&str]) -> BTreeMap<String, Page> {
    let mut seen = BTreeMap::new();
    let mut queue: Vec<String> = start.iter().map(|s| (*s).to_owned()).collect();
    while let Some(path) = queue.pop() {
        if seen.contains_key(&path) || seen.len() > 60 {
            continue;
        }
        let page = browser.get(&path).await;
        for link in links(&page.body) {
            if within.iter().any(|w| link.starts_with(w)) && !seen.contains_key(&link) {
                queue.push(link);
            }
        }
        seen.insert(path, page);
    }
    seen
}

/// A server with something on every console and account page: a user with a consent, a
/// session and a reset link, a locked account and client, and a signed-in admin.
struct World {
    console: Console,
    carol: Browser,
    anonymous: Browser,
    consent_url: String,
    pages: BTreeMap<String, Page>,
}

async fn world(app: &TestApp) -> World {
    crate::admin_locked::lock_alice_and_a_client(app).await;
    let carol_id = flow::create_user(app, "carol");
    let client = flow::confidential(app);
    flow::tokens_for(app, &client, "carol", "openid").await;
    create_admin(app, ROOT);
    let console = Console::sign_in(app, ROOT).await;
    let carol = Browser::new(app);
    carol.sign_in("carol").await;
    let reset = console
        .post(
            &format!("/admin/users/{carol_id}/reset-link"),
            &[("ttl", "600")],
        )
        .await;
    let start = reset.body.find("/reset/").expect("a reset link");
    let reset_path = &reset.body[start..];
    let reset_path = reset_path[..reset_path.find('"').unwrap()].to_owned();
    // A second client, so carol meets a consent page.
    let other = flow::confidential(app);
    let consent_url = auth_url(&other.id, &[("scope", "openid")]);

    let mut pages = crawl(&console.browser, &["/admin/"], &["/admin"]).await;
    pages.extend(crawl(&carol, &["/account", "/logout"], &["/account"]).await);
    let anonymous = Browser::new(app);
    for path in ["/login", reset_path.as_str()] {
        pages.insert(path.to_owned(), anonymous.get(path).await);
    }
    pages.insert(consent_url.clone(), carol.get(&consent_url).await);
    // An error page: an authorization request from no registered client.
    let error = auth_url("no-such-client", &[]);
    pages.insert(error.clone(), carol.get(&error).await);
    World {
        console,
        carol,
        anonymous,
        consent_url,
        pages,
    }
}

fn header<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    page.headers.get(name).and_then(|v| v.to_str().ok())
}

on_both_backends!(
    @spawn rfc9700_4_2_no_page_leaks_its_url_through_referer,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        let world = world(&app).await;
        let html: Vec<_> = world
            .pages
            .iter()
            .filter(|(_, p)| header(p, "content-type").is_some_and(|t| t.starts_with("text/html")))
            .collect();
        // login, consent, error, account, admin (each of its sections) and reset pages.
        assert!(html.len() >= 12, "only {} pages found", html.len());
        for (path, page) in &html {
            let policy = header(page, "referrer-policy");
            assert!(
                matches!(policy, Some("no-referrer" | "strict-origin" | "same-origin")),
                "{path}: Referrer-Policy {policy:?}"
            );
        }
        // The authorization response is a redirect, not a page that could load a third
        // party's content with the code in its URL; the redirect itself says no-referrer.
        let consent = &world.pages[&world.consent_url];
        let answer = world.carol.consent(consent, true).await;
        assert!(matches!(answer.status, 302 | 303), "{}", answer.body);
        assert!(answer.location.as_deref().unwrap().starts_with(flow::REDIRECT));
        assert!(answer.body.is_empty(), "{}", answer.body);
        assert_eq!(header(&answer, "referrer-policy"), Some("no-referrer"));
        // With `response_mode=form_post` the code is in a page of Tessera's own: it loads
        // nothing from elsewhere and sends no Referer.
        let form_post = world
            .carol
            .get(&format!("{}&response_mode=form_post", world.consent_url))
            .await;
        assert_eq!(form_post.status, 200, "{}", form_post.body);
        assert!(form_post.body.contains("name=\"code\""), "{}", form_post.body);
        assert_eq!(header(&form_post, "referrer-policy"), Some("no-referrer"));
        let csp = header(&form_post, "content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(!form_post.body.contains(" src="), "{}", form_post.body);
    }
);

on_both_backends!(
    @spawn rfc9700_4_7_every_form_refuses_a_missing_or_wrong_csrf_token,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        let world = world(&app).await;
        let mut forms = Vec::new();
        for (path, page) in &world.pages {
            forms.extend(post_forms(path, &page.body));
        }
        let actions: BTreeSet<String> = forms
            .iter()
            .map(|f| f.action.split('?').next().unwrap().to_owned())
            .collect();
        // The families this test must have reached; more is fine.
        for family in [
            "/login",
            "/oauth/authorize",
            "/logout",
            "/account/",
            "/reset/",
            "/admin/users/",
            "/admin/clients/",
            "/admin/keys/",
            "/admin/locked/unlock",
        ] {
            assert!(
                actions.iter().any(|a| a.starts_with(family)),
                "no form posting to {family} found in {actions:?}"
            );
        }
        assert!(forms.len() >= 20, "only {} forms found", forms.len());
        let before = audit_actions(&app).await.len();
        for form in &forms {
            let token_field = form
                .fields
                .iter()
                .find(|(k, _)| k.contains("csrf"))
                .map(|(k, _)| k.clone());
            let Some(token_field) = token_field else {
                // A reset link's path is its capability (src/routes/reset.rs): another site
                // cannot post to a link it does not know. A made-up link is refused.
                if let Some(token) = form.action.strip_prefix("/reset/") {
                    let last = if token.ends_with('A') { 'B' } else { 'A' };
                    let forged = format!("/reset/{}{last}", &token[..token.len() - 1]);
                    let answer = world.anonymous.post(&forged, &form.fields).await;
                    assert!(
                        matches!(answer.status, 400 | 403 | 404 | 410),
                        "a made-up reset link: {} {}",
                        answer.status,
                        answer.body
                    );
                    continue;
                }
                panic!(
                    "form to {} on {} has no CSRF token: {:?}",
                    form.action, form.found_on, form.fields
                );
            };
            let browser = if form.found_on.starts_with("/admin") {
                &world.console.browser
            } else if form.found_on == "/login" || form.found_on.starts_with("/reset/") {
                &world.anonymous
            } else {
                &world.carol
            };
            let without: Vec<_> = form
                .fields
                .iter()
                .filter(|(k, _)| *k != token_field)
                .cloned()
                .collect();
            let mut wrong = without.clone();
            wrong.push((token_field.clone(), "forged-by-another-site".into()));
            for (what, fields) in [("missing", &without), ("wrong", &wrong)] {
                let answer = browser.post(&form.action, fields).await;
                // The consent form without its token is an authorization request again
                // (docs/security.md): the consent page, never a redirect with a code.
                if form.action.starts_with("/oauth/authorize") && answer.status == 200 {
                    assert!(answer.body.contains("name=\"decision\""), "{}", answer.body);
                    continue;
                }
                assert!(
                    matches!(answer.status, 400 | 403),
                    "{what} CSRF token at {} (from {}): {} {:?}",
                    form.action,
                    form.found_on,
                    answer.status,
                    answer.location
                );
                assert!(
                    answer.body.contains("expired")
                        || answer.body.contains("forged")
                        || answer.body.contains("CSRF"),
                    "{what} at {}: a readable refusal, got {}",
                    form.action,
                    answer.body
                );
            }
        }
        assert_eq!(audit_actions(&app).await.len(), before, "a refused form changed something");
        // Still signed in: no refused form signed anyone out.
        assert_eq!(world.carol.get("/account").await.status, 200);
        assert_eq!(world.console.get("/admin/").await.status, 200);
    }
);
