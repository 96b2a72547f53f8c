//! Cross-site scripting: every value a page shows that a user, an admin or a request
//! controls — display name, email, username, client name, redirect URI, scope, audit
//! entries, error descriptions, `return_to`, `state`, `login_hint` — is put through the
//! real forms and query strings with markup and attribute-breaking quotes, and every page
//! that shows it must render it as text and carry a Content-Security-Policy (RFC 9700 §4.16
//! asks the authorization server's pages not to be usable against their users; OWASP's XSS
//! rules say how: escape on output, CSP as the second line).
use crate::admin::Console;
use crate::flow::{self, Browser, Page, REDIRECT, auth_url, pkce};
use crate::helpers::TestApp;
use crate::on_both_backends;

/// Breaks out of a double-quoted attribute, a single-quoted one, and text.
const PAYLOAD: &str = "x\" onfocus=\"alert(2)' onblur='alert(3)><script>alert(1)</script><img src=x onerror=alert(4)>";

/// What would run if the payload reached the page unescaped.
const LIVE: [&str; 4] = [
    "onfocus=\"alert(2)",
    "onblur='alert(3)",
    "<script>alert(1)",
    "<img src=x onerror",
];

fn assert_inert(what: &str, page: &Page) {
    for live in LIVE {
        assert!(
            !page.body.contains(live),
            "{what}: `{live}` reached the page unescaped:\n{}",
            page.body
        );
    }
    if page.status != 303 {
        let csp = page
            .headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"))
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src"), "{what}: {csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{what}: {csp}");
    }
}

/// The payload is on the page (escaped), so the test looked where the value is shown.
fn assert_shown(what: &str, page: &Page) {
    let shown = flow::unescape(&page.body).contains(PAYLOAD) || page.body.contains("alert(1)");
    assert!(
        shown,
        "{what}: the value is not on the page at all:\n{}",
        page.body
    );
}

on_both_backends!(
    pages_show_user_controlled_values_as_text,
    |app: TestApp| async move {
        let console = Console::root(&app).await;

        // A user whose display name and email an admin typed (the email is refused, and
        // the refusal page shows what was typed).
        let page = console
            .post(
                "/admin/users/new",
                &[
                    ("username", "eve"),
                    ("password", flow::PASSWORD),
                    ("name", PAYLOAD),
                ],
            )
            .await;
        assert_inert("create user", &page);
        assert_eq!(page.status, 303, "{}", page.body);
        let user_page = page.location.clone().unwrap();
        let page = console.get(&user_page).await;
        assert_inert("user page", &page);
        assert_shown("user page", &page);
        let page = console.get("/admin/users").await;
        assert_inert("user list", &page);
        assert_shown("user list", &page);
        let page = console
            .post(
                &format!("{}/profile", user_page.split('?').next().unwrap()),
                &[("name", PAYLOAD), ("email", PAYLOAD)],
            )
            .await;
        assert_inert("bad email", &page);
        let page = console
            .post(
                "/admin/users/new",
                &[("username", PAYLOAD), ("password", flow::PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 400);
        assert_inert("bad username", &page);

        // A client whose name, redirect URI and scope carry markup.
        let redirect = format!("{REDIRECT}?next={PAYLOAD}");
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", PAYLOAD),
                    ("grant_type", "authorization_code"),
                    ("redirect_uris", &redirect),
                    ("scopes", PAYLOAD),
                ],
            )
            .await;
        assert_inert("client with a bad scope", &page);
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", PAYLOAD),
                    ("client_type", "public"),
                    ("grant_type", "authorization_code"),
                    ("redirect_uris", REDIRECT),
                    ("scopes", "openid profile"),
                ],
            )
            .await;
        assert_inert("client created", &page);
        assert_eq!(page.status, 200, "{}", page.body);
        let client_id = {
            let key = "id=\"client_id\" value=\"";
            let rest = &page.body[page.body.find(key).expect("the new client's id") + key.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        };
        let page = console.get("/admin/clients").await;
        assert_inert("client list", &page);
        assert_shown("client list", &page);
        let page = console.get(&format!("/admin/clients/{client_id}")).await;
        assert_inert("client page", &page);

        // The audit log shows targets and details of all of the above.
        let page = console.get("/admin/audit").await;
        assert_inert("audit log", &page);
        assert_shown("audit log", &page);

        // Values a request carries: return_to, login_hint, state, an unknown client id.
        let browser = Browser::new(&app);
        let page = browser
            .get(&format!("/login?return_to={}", urlencode(PAYLOAD)))
            .await;
        assert_inert("return_to", &page);
        let page = browser.get(&auth_url(PAYLOAD, &[])).await;
        assert_inert("unknown client error page", &page);
        let page = browser
            .get(&format!(
                "/oauth/authorize?client_id={client_id}&redirect_uri={}&response_type=code",
                urlencode(&format!("{REDIRECT}{PAYLOAD}"))
            ))
            .await;
        assert_inert("unregistered redirect error page", &page);

        flow::create_user(&app, "alice");
        let (_, challenge) = pkce();
        // auth_url sends a state of its own; this one carries the payload.
        let url = auth_url(
            &client_id,
            &[
                ("scope", "openid profile"),
                ("nonce", PAYLOAD),
                ("login_hint", PAYLOAD),
                ("response_mode", "form_post"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .replace("state=st-123", &format!("state={}", urlencode(PAYLOAD)));
        let page = browser.get(&url).await;
        assert_inert("login page with login_hint", &page);
        assert!(page.is_login(), "{}", page.body);
        let signed_in = browser.login(&page, "alice", flow::PASSWORD).await;
        assert_inert("sign-in", &signed_in);
        let consent = browser.get(signed_in.location.as_deref().unwrap()).await;
        assert_inert("consent page", &consent);
        assert_shown("consent page (client name)", &consent);
        let answer = browser.consent(&consent, true).await;
        assert_inert("form_post answer", &answer);
        assert_shown("form_post answer (state)", &answer);

        // The signed-in page shows what the admin typed as the user's name too.
        let eve = Browser::new(&app);
        eve.sign_in("eve").await;
        let page = eve.get("/login").await;
        assert_inert("signed-in page", &page);
        assert_shown("signed-in page (display name)", &page);
    }
);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
