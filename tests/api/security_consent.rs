//! Consent is a decision the user posts: never a GET (a link or an image could carry it),
//! and `prompt=consent` always shows the page (OIDC Core §3.1.2.1), whatever was granted.
use crate::flow::{self, Browser, auth_url, input};
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    a_consent_decision_by_get_is_not_a_decision,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        let url = auth_url(&client.id, &[]);
        let consent = browser.get(&url).await;
        assert!(consent.is_consent());
        let csrf = input(&consent.body, "csrf_token").unwrap();

        // The session's own CSRF token in a GET query grants nothing: it is the
        // authorization request again, and the consent page comes back.
        for decision in ["allow", "deny"] {
            let forged = browser
                .get(&format!("{url}&decision={decision}&csrf_token={csrf}"))
                .await;
            assert!(forged.is_consent(), "{decision}: {}", forged.status);
            assert!(forged.location.is_none());
        }
        // Nor does a POST that carries the decision in its query instead of its form.
        let forged = browser
            .post(&format!("{url}&decision=allow&csrf_token={csrf}"), &[])
            .await;
        assert!(forged.is_consent(), "{}: {}", forged.status, forged.body);

        // The form, posted, does.
        let done = browser.consent(&consent, true).await;
        assert!(done.redirect_param("code").is_some());
    }
);

on_both_backends!(
    prompt_consent_always_asks_and_deny_works_every_time,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let first = browser.authorize(&auth_url(&client.id, &[]), "alice").await;
        assert!(first.redirect_param("code").is_some());
        // Consent is remembered...
        let again = browser.get(&auth_url(&client.id, &[])).await;
        assert!(again.redirect_param("code").is_some());
        // ...but prompt=consent asks anyway, and a deny is a deny, twice in a row.
        for _ in 0..2 {
            let page = browser
                .get(&auth_url(&client.id, &[("prompt", "consent")]))
                .await;
            assert!(page.is_consent(), "{}: {}", page.status, page.body);
            let denied = browser.consent(&page, false).await;
            assert_eq!(
                denied.redirect_param("error").as_deref(),
                Some("access_denied")
            );
            assert_eq!(denied.redirect_param("state").as_deref(), Some("st-123"));
        }
        // And an allow after prompt=consent still issues a code.
        let page = browser
            .get(&auth_url(&client.id, &[("prompt", "consent")]))
            .await;
        let allowed = browser.consent(&page, true).await;
        assert!(allowed.redirect_param("code").is_some());
    }
);
