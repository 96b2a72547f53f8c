//! The admin console under awkward input: long lists page, and oversized, non-UTF-8,
//! repeated or missing form fields get a readable 4xx page, never a 500.
use tessera::store::users::{self as user_store, NewUserRow};

use crate::admin::Console;
use crate::helpers::TestApp;
use crate::on_both_backends;

fn seed_users(app: &TestApp, n: usize) {
    let mut conn = app.store.conn().unwrap();
    for i in 0..n {
        let name = format!("user{i:02}");
        user_store::insert(
            &mut conn,
            &NewUserRow {
                subject: &format!("sub-{i}"),
                username: &name,
                password_hash: "not-a-hash",
                email: Some(&format!("{name}@example.com")),
                name: None,
                is_admin: false,
                created_at: 0,
                updated_at: 0,
            },
        )
        .unwrap();
    }
}

on_both_backends!(
    the_user_list_pages_and_keeps_the_search,
    |app: TestApp| async move {
        seed_users(&app, 40);
        let console = Console::root(&app).await;
        let page = console.get("/admin/users").await;
        assert!(
            page.body.contains("Page 1 of 2 · 42 in all"),
            "{}",
            page.body
        );
        assert!(page.body.contains(">admin</a>"));
        assert!(page.body.contains("href=\"/admin/users?page=2\""));
        let page = console.get("/admin/users?page=2").await;
        assert!(page.body.contains("Page 2 of 2"));
        assert!(page.body.contains(">user39</a>"));
        assert!(!page.body.contains(">user00</a>"));
        let page = console.get("/admin/users?q=user3").await;
        assert!(page.body.contains("10 in all"), "{}", page.body);
        // The search is kept in the paging links.
        let page = console.get("/admin/users?q=example.com").await;
        assert!(page.body.contains("Page 1 of 2 · 40 in all"));
        assert!(
            page.body
                .contains("href=\"/admin/users?q=example.com&#38;page=2\"")
                || page
                    .body
                    .contains("href=\"/admin/users?q=example.com&amp;page=2\""),
            "{}",
            page.body
        );
    }
);

on_both_backends!(
    hostile_form_input_gets_a_readable_4xx,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        let url = app.url("/admin/users/new");
        let send = |body: Vec<u8>| {
            let c = &console;
            let url = url.clone();
            async move {
                let res = c
                    .browser
                    .http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
                (status, kind, res.text().await.unwrap())
            }
        };
        let csrf = format!("csrf_token={}", console.csrf);
        // Far too large.
        let mut big = format!("{csrf}&username=").into_bytes();
        big.extend(std::iter::repeat_n(b'a', 400_000));
        let (status, kind, _) = send(big).await;
        assert_eq!(status, 400);
        assert!(kind.starts_with("text/html"));
        // Not UTF-8, and a username that is too long.
        let mut odd = format!("{csrf}&password=long+enough+pw&username=").into_bytes();
        odd.extend([0xff, 0xfe, b'%', b'z', b'z']);
        let (status, _, body) = send(odd).await;
        assert_eq!(status, 400, "{body}");
        let long = format!(
            "{csrf}&password=long+enough+pw&username={}",
            "a".repeat(151)
        );
        let (status, _, body) = send(long.into_bytes()).await;
        assert_eq!(status, 400);
        assert!(body.contains("at most 150 characters"));
        // A repeated field counts as missing, not as either value.
        let repeated = format!("{csrf}&password=long+enough+pw&username=a&username=b");
        let (status, _, _) = send(repeated.into_bytes()).await;
        assert_eq!(status, 400);
        // A repeated CSRF token is no CSRF token.
        let twice = format!("{csrf}&{csrf}&password=long+enough+pw&username=c");
        let (status, _, _) = send(twice.into_bytes()).await;
        assert_eq!(status, 403);
        // Ids that are not ids.
        for path in [
            "/admin/users/99999999999999999999999",
            "/admin/users/-1",
            "/admin/users/%00",
            "/admin/keys/..%2F..%2Fetc/retire",
            "/admin/clients/%2E%2E%2Fx",
        ] {
            let page = console.get(path).await;
            assert_eq!(page.status, 404, "{path}: {}", page.body);
        }
        let page = console
            .post("/admin/users/%20/profile", &[("name", "x")])
            .await;
        assert_eq!(page.status, 404);
    }
);
