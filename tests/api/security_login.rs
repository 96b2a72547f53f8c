//! Sign-in hardening: where `return_to` may send a signed-in browser.
use crate::flow::{self, Browser};
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    a_control_character_in_return_to_falls_back_to_the_default,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        // Before: only CR and LF were refused, so any other control character reached the
        // Location header and the answer was a 500.
        for bad in ["%01", "%00", "%09", "%1F", "%7F", "%0D", "%0A"] {
            for base in ["/admin/", "/oauth/authorize?client_id="] {
                let page = browser.get(&format!("/login?return_to={base}{bad}x")).await;
                assert_eq!(page.status, 200, "{base}{bad}: {}", page.body);
                assert!(page.location.is_none(), "{base}{bad}");
                assert!(page.body.contains("You are signed in"), "{base}{bad}");
            }
        }
        // A clean target still redirects.
        let ok = browser.get("/login?return_to=/admin/users").await;
        assert_eq!(ok.status, 303);
        assert_eq!(ok.location.as_deref(), Some("/admin/users"));

        // At sign-in too: the form's return_to falls back to /login.
        let fresh = Browser::new(&app);
        let page = fresh.get("/login?return_to=/admin/%01x").await;
        assert!(page.is_login());
        let mut form = flow::inputs(&page.body);
        form.retain(|(k, _)| k != "return_to" && k != "username");
        form.push(("return_to".into(), "/admin/\u{1}x".into()));
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), flow::PASSWORD.into()));
        let done = fresh.post("/login", &form).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/login"));
    }
);
