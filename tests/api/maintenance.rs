//! Expired rows are pruned; live ones are kept.
use tessera::store::maintenance::{Pruned, prune};

use crate::flow::{self, tokens_for};
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    pruning_deletes_only_what_expired,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        tokens_for(&app, &client, "alice", "openid offline_access").await;
        let now = app.clock.unix();
        let mut conn = app.store.conn().unwrap();
        // Nothing has expired yet.
        assert_eq!(prune(&mut conn, now, 86_400).unwrap(), Pruned::default());
        // Two days on: the session (8 h), the code (60 s) and the refresh token (24 h) are gone.
        let later = prune(&mut conn, now + 2 * 86_400 + 10, 0).unwrap();
        assert_eq!(later.sessions, 1);
        assert_eq!(later.codes, 1);
        assert_eq!(later.refresh_tokens, 1);
    }
);
