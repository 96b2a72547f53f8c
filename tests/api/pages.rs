//! Details people see on Tessera's own pages: the front door, breadcrumbs that name the
//! page, no Retire button the server would refuse, a way out of the console's 403, and a
//! name shown once.
use crate::admin::{Console, ROOT, create_admin};
use crate::flow::{self, Browser};
use crate::helpers::{Backend, spawn};

#[actix_web::test]
async fn the_front_door_leads_to_signing_in() {
    let app = spawn(Backend::Sqlite).await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("href=\"/login\""));
    flow::create_user(&app, "alice");
    let browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("You are signed in"), "{}", page.body);
    // Signed in, the front door is the account page.
    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Your account"), "{}", home.body);
}

#[actix_web::test]
async fn console_pages_name_where_you_are_and_offer_only_what_works() {
    let app = spawn(Backend::Sqlite).await;
    let console = Console::root(&app).await;
    let users = console.get("/admin/users").await;
    let id = users
        .body
        .split("href=\"/admin/users/")
        .filter_map(|rest| rest.split('"').next())
        .find(|id| id.chars().all(|c| c.is_ascii_digit()))
        .expect("a user link")
        .to_owned();
    let page = console.get(&format!("/admin/users/{id}")).await;
    let name = page
        .body
        .split("<h1>")
        .nth(1)
        .and_then(|rest| rest.split("</h1>").next())
        .expect("a heading")
        .to_owned();
    assert!(
        page.body
            .contains(&format!("/ <span aria-current=\"page\">{name}</span>")),
        "the breadcrumb ends with the page's name: {}",
        page.body
    );
    // The active key signs: retiring it is refused, so the page offers no such button.
    let keys = console.get("/admin/keys").await;
    let active = app.keys.current().active_kid().to_owned();
    assert!(keys.body.contains(&active));
    assert!(
        !keys.body.contains(&format!("/admin/keys/{active}/retire")),
        "{}",
        keys.body
    );
}

#[actix_web::test]
async fn a_non_admin_is_not_sent_back_to_the_console() {
    let app = spawn(Backend::Sqlite).await;
    create_admin(&app, ROOT);
    flow::create_user(&app, "alice");
    let browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let page = browser.get("/admin/").await;
    assert_eq!(page.status, 403);
    assert!(
        !page.body.contains("Back to the admin console"),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/\""), "{}", page.body);
}

#[actix_web::test]
async fn a_name_is_shown_once_when_it_is_the_username() {
    let app = spawn(Backend::Sqlite).await;
    {
        // A user without a display name: the username stands in for it.
        let mut conn = app.store.conn().unwrap();
        tessera::users::create(
            &mut conn,
            &tessera::clock::SystemClock,
            &tessera::users::NewUser {
                username: tessera::domain::Username::parse("bob").unwrap(),
                password: tessera::domain::Password::parse(flow::PASSWORD).unwrap(),
                email: None,
                name: None,
                is_admin: false,
            },
        )
        .unwrap();
    }
    let browser = Browser::new(&app);
    browser.sign_in("bob").await;
    let page = browser.get("/login").await;
    assert!(page.body.contains("<strong>bob</strong>"), "{}", page.body);
    assert!(!page.body.contains("(bob)"), "{}", page.body);
}
