//! Group commit for the writes of the authorize and token endpoints: inserts of codes, access
//! and refresh tokens, and the spending of codes. Each write on its own is a database round
//! trip and, on SQLite, a turn at the one writer connection; under load most of a write's cost
//! is that hand-off, not the row. So the writes that arrive while one batch is being written go
//! together into the next, as one statement. A request alone waits for nobody: its batch is
//! itself.
//!
//! A caller's write is committed when [`Batcher::submit`] returns `Ok`, as with a plain
//! statement, so the ordering arguments of the grants module hold unchanged. A caller that goes
//! away still has its write made (a token nobody holds, a code spent by nobody).
use std::collections::HashMap;
use std::future::Future;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter,
};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use super::grants::{self, GrantHolder, GrantTokens};
use super::tables::{access_token, authorization_code, refresh_token};

/// Writes per statement: enough to absorb the 64 connections of the benchmark, far below the
/// bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535).
const MAX_BATCH: usize = 64;

type Queued<I, O> = (I, oneshot::Sender<Result<O, DbErr>>);

/// Hands writes of one kind to a background task that makes them in batches.
#[derive(Debug)]
pub(super) struct Batcher<I, O = ()> {
    queue: mpsc::Sender<Queued<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Batcher {
            queue: self.queue.clone(),
        }
    }
}

impl<I, O> Batcher<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
{
    /// Starts the writing task, which gives each batch to `write` and expects one answer per
    /// item, in order; it ends when the last clone of the batcher is dropped.
    fn start<W, F>(writer: DatabaseConnection, write: W) -> Batcher<I, O>
    where
        W: Fn(DatabaseConnection, Vec<I>) -> F + Send + 'static,
        F: Future<Output = Vec<Result<O, DbErr>>> + Send,
    {
        let (queue, mut receiver) = mpsc::channel::<Queued<I, O>>(MAX_BATCH * 16);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (items, replies): (Vec<I>, Vec<_>) = batch.drain(..).unzip();
                let answers = write(writer.clone(), items).await;
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A caller that has gone away does not need the answer.
                    let _ = reply.send(answer);
                }
            }
        });
        Batcher { queue }
    }

    /// Whether the writing task still runs (it stops only if it panicked).
    /// Items sent and not yet taken into a batch.
    pub(super) fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    pub(super) fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }

    /// Makes the write of `item`; returns once it is committed.
    pub(super) async fn submit(&self, item: I) -> Result<O, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((item, reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(answer.await.map_err(|_| StoreError::WriterStopped)??)
    }
}

/// Inserts rows of one table, each batch as one multi-row `INSERT`.
pub(super) fn inserts<A>(writer: DatabaseConnection) -> Batcher<A>
where
    A: ActiveModelTrait + Clone + Send + 'static,
{
    Batcher::start(writer, |writer, rows| async move {
        insert_rows::<A>(&writer, rows).await
    })
}

/// When a batch fails, each of its rows is tried alone when a constraint refused it (one row
/// may have spoiled it for the others); any other failure is every row's answer.
async fn insert_rows<A>(writer: &DatabaseConnection, rows: Vec<A>) -> Vec<Result<(), DbErr>>
where
    A: ActiveModelTrait + Clone + Send + 'static,
{
    let written = A::Entity::insert_many(rows.iter().cloned())
        .exec_without_returning(writer)
        .await;
    match written {
        Ok(_) => rows.iter().map(|_| Ok(())).collect(),
        Err(error) if rows.len() > 1 && error.sql_err().is_some() => {
            let mut answers = Vec::with_capacity(rows.len());
            for row in rows {
                let alone = A::Entity::insert(row).exec_without_returning(writer).await;
                answers.push(alone.map(drop));
            }
            answers
        }
        Err(error) => every_one(&error, rows.len()),
    }
}

/// Stores the tokens of spent grants, one multi-row `INSERT` per table, then reads their holders
/// in one go ([`grants::grant_holders`]), on the writer: on SQLite its page cache is the one
/// that already holds what was just written.
pub(super) fn grant_tokens(
    writer: DatabaseConnection,
) -> Batcher<GrantTokens, Option<GrantHolder>> {
    Batcher::start(writer, store_grant_tokens)
}

async fn store_grant_tokens(
    writer: DatabaseConnection,
    grants: Vec<GrantTokens>,
) -> Vec<Result<Option<GrantHolder>, DbErr>> {
    let access = grants
        .iter()
        .map(|grant| access_token::Model::from(grant.access.clone()).into_active_model());
    let mut stored = insert_rows(&writer, access.collect()).await;
    let (with_refresh, refresh): (Vec<usize>, Vec<_>) = grants
        .iter()
        .enumerate()
        .filter(|(at, _)| stored[*at].is_ok())
        .filter_map(|(at, grant)| {
            let refresh = refresh_token::Model::from(grant.refresh.clone()?);
            Some((at, refresh.into_active_model()))
        })
        .unzip();
    if !refresh.is_empty() {
        for (at, answer) in with_refresh
            .into_iter()
            .zip(insert_rows(&writer, refresh).await)
        {
            stored[at] = answer;
        }
    }
    let ready: Vec<&GrantTokens> = grants
        .iter()
        .zip(&stored)
        .filter(|(_, stored)| stored.is_ok())
        .map(|(grant, _)| grant)
        .collect();
    let mut holders = match grants::grant_holders(&writer, &ready).await {
        Ok(holders) => holders.into_iter().map(Ok).collect(),
        Err(error) => every_one(&error, ready.len()),
    }
    .into_iter();
    stored
        .into_iter()
        .map(|stored| stored.and_then(|()| holders.next().expect("one holder per stored grant")))
        .collect()
}

/// A code to spend: its stored key, the client presenting it, and the presenter's clock.
#[derive(Debug)]
pub(super) struct CodeSpend {
    pub code_hash: String,
    pub client_id: String,
    pub now: i64,
}

/// Spends authorization codes, named by their stored keys and the client presenting each, with
/// one conditional `UPDATE … RETURNING` per batch: each code that was unspent, unexpired and
/// issued to the client presenting it comes back once, to the first such caller that named it;
/// every other caller gets `None`. A code presented by another client is left as it was, so a
/// client holding another's code cannot burn it. When the batch fails, each code is spent
/// alone: two processes' batches that share codes can lock them in opposite orders, and
/// PostgreSQL then aborts one as a deadlock, which is no reason to fail the other codes in it.
pub(super) fn code_spends(
    writer: DatabaseConnection,
) -> Batcher<CodeSpend, Option<authorization_code::Model>> {
    Batcher::start(writer, spend_codes)
}

async fn spend_codes(
    writer: DatabaseConnection,
    spends: Vec<CodeSpend>,
) -> Vec<Result<Option<authorization_code::Model>, DbErr>> {
    // The latest clock of the batch, a second at most after the others, decides expiry and is
    // recorded as the time of the spend: a code at the edge of its lifetime may be refused a
    // moment early, never accepted late.
    let now = spends
        .iter()
        .map(|spend| spend.now)
        .max()
        .unwrap_or_default();
    match spend_code_rows(&writer, &spends, now).await {
        Ok(rows) => {
            let mut by_key: HashMap<(String, String), authorization_code::Model> = rows
                .into_iter()
                .map(|row| ((row.code_hash.clone(), row.client_id.clone()), row))
                .collect();
            spends
                .iter()
                .map(|spend| Ok(by_key.remove(&(spend.code_hash.clone(), spend.client_id.clone()))))
                .collect()
        }
        Err(_) if spends.len() > 1 => {
            let mut answers = Vec::with_capacity(spends.len());
            for spend in &spends {
                let alone = spend_code_rows(&writer, std::slice::from_ref(spend), spend.now).await;
                answers.push(alone.map(|rows| rows.into_iter().next()));
            }
            answers
        }
        Err(error) => every_one(&error, spends.len()),
    }
}

async fn spend_code_rows(
    writer: &DatabaseConnection,
    spends: &[CodeSpend],
    now: i64,
) -> Result<Vec<authorization_code::Model>, DbErr> {
    use authorization_code::Column as C;
    let named = spends.iter().fold(Condition::any(), |any, spend| {
        any.add(
            Condition::all()
                .add(C::CodeHash.eq(spend.code_hash.as_str()))
                .add(C::ClientId.eq(spend.client_id.as_str())),
        )
    });
    authorization_code::Entity::update_many()
        .col_expr(C::ConsumedAt, Expr::value(now))
        .filter(named)
        .filter(C::ConsumedAt.is_null())
        .filter(C::ExpiresAt.gt(now))
        .exec_with_returning(writer)
        .await
}

/// The same failure for each of `count` writes, of its own kind (a lost database stays one).
fn every_one<O>(error: &DbErr, count: usize) -> Vec<Result<O, DbErr>> {
    (0..count).map(|_| Err(error.clone())).collect()
}

#[cfg(test)]
mod tests {
    use sea_orm::IntoActiveModel;

    use super::super::Store;
    use super::super::tables::{access_token, authorization_code};

    /// A migrated store on a new SQLite file (kept while the directory lives).
    async fn migrated_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    fn token(hash: &str) -> access_token::ActiveModel {
        access_token::Model {
            token_hash: hash.to_string(),
            family_id: None,
            client_id: "c".into(),
            user_id: None,
            scope: String::new(),
            expires_at: 0,
            revoked_at: None,
        }
        .into_active_model()
    }

    #[tokio::test]
    async fn a_stopped_writer_makes_the_store_unready() {
        let (_dir, mut store) = migrated_store().await;
        store.ping().await.unwrap();
        let (queue, receiver) = tokio::sync::mpsc::channel(1);
        drop(receiver);
        store.access_tokens = super::Batcher { queue };
        assert!(matches!(
            store.ping().await,
            Err(super::StoreError::WriterStopped)
        ));
    }

    fn code(hash: &str, expires_at: i64) -> authorization_code::Model {
        authorization_code::Model {
            code_hash: hash.to_string(),
            family_id: format!("family-{hash}"),
            client_id: "c".into(),
            user_id: "u".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: "openid".into(),
            nonce: None,
            sid: None,
            code_challenge: None,
            auth_time: 0,
            expires_at,
            consumed_at: None,
            revoked_at: None,
        }
    }

    fn code_row(hash: &str, expires_at: i64) -> authorization_code::ActiveModel {
        code(hash, expires_at).into_active_model()
    }

    fn spend_by(client_id: &str, hash: &str) -> super::CodeSpend {
        super::CodeSpend {
            code_hash: hash.to_string(),
            client_id: client_id.to_string(),
            now: 50,
        }
    }

    /// When a batch of spends fails, each code is spent alone: one that cannot be spent (here a
    /// trigger refuses it; in production, a deadlock with another process's batch) does not
    /// fail the others.
    #[tokio::test]
    async fn a_failed_spend_does_not_spoil_its_batch() {
        use sea_orm::ConnectionTrait;
        let (_dir, store) = migrated_store().await;
        store.codes.submit(code_row("live", 100)).await.unwrap();
        store.codes.submit(code_row("poison", 100)).await.unwrap();
        store
            .connection()
            .execute_unprepared(
                "CREATE TRIGGER poison BEFORE UPDATE ON authorization_codes \
                 WHEN OLD.code_hash = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            )
            .await
            .unwrap();
        let spend = |hash: &str| store.code_spends.submit(spend_by("c", hash));
        let (live, poison) = tokio::join!(spend("live"), spend("poison"));
        assert!(
            live.unwrap().is_some(),
            "spent alone after the batch failed"
        );
        assert!(poison.is_err());
    }

    /// On the current-thread runtime the three spends are queued before the writing task runs,
    /// so they form one batch, in which one code is named twice.
    #[tokio::test]
    async fn a_code_named_twice_in_one_batch_is_spent_once() {
        let (_dir, store) = migrated_store().await;
        store.codes.submit(code_row("live", 100)).await.unwrap();
        store.codes.submit(code_row("expired", 10)).await.unwrap();
        let spend = |hash: &str| store.code_spends.submit(spend_by("c", hash));
        let (first, again, expired, unknown) = tokio::join!(
            spend("live"),
            spend("live"),
            spend("expired"),
            spend("unknown")
        );
        let (first, again) = (first.unwrap(), again.unwrap());
        assert_eq!(first.map(|row| row.consumed_at), Some(Some(50)));
        assert!(again.is_none(), "the second naming finds it spent");
        assert!(expired.unwrap().is_none() && unknown.unwrap().is_none());
        assert!(
            spend("live").await.unwrap().is_none(),
            "and so does a later batch"
        );
    }

    /// Another client naming the code in the same batch, ahead of its owner, neither gets it
    /// nor spends it.
    #[tokio::test]
    async fn a_code_named_by_another_client_is_left_for_its_own() {
        let (_dir, store) = migrated_store().await;
        store.codes.submit(code_row("live", 100)).await.unwrap();
        let spend = |client: &str| store.code_spends.submit(spend_by(client, "live"));
        let (other, own) = tokio::join!(spend("other"), spend("c"));
        assert!(other.unwrap().is_none());
        assert_eq!(own.unwrap().map(|row| row.client_id), Some("c".to_string()));
        assert!(spend("other").await.unwrap().is_none());
    }

    fn grant(user_id: &str, spent: super::super::SpentGrant, key: &str) -> super::GrantTokens {
        super::GrantTokens {
            spent,
            access: super::super::NewAccessToken {
                token_hash: key.to_string(),
                family_id: None,
                client_id: "c".into(),
                user_id: Some(user_id.to_string()),
                scope: crate::vocabulary::scope::Scopes::parse(""),
                expires_at: 0,
            },
            refresh: None,
        }
    }

    /// On the current-thread runtime the grants are queued before the writing task runs, so
    /// they form one batch: each gets its own holder and replay check.
    #[tokio::test]
    async fn each_grant_of_a_batch_gets_its_own_holder() {
        use super::super::SpentGrant::{Code, Refresh};
        use sea_orm::{ActiveModelTrait, IntoActiveModel};
        let (_dir, store) = migrated_store().await;
        super::super::users::new_user_row(
            "u",
            "u@example.com",
            "U",
            None,
            &super::super::UserSource::Config,
            0,
        )
        .into_active_model()
        .insert(store.connection())
        .await
        .unwrap();
        store.codes.submit(code_row("live", 100)).await.unwrap();
        store
            .codes
            .submit(
                authorization_code::Model {
                    revoked_at: Some(60),
                    ..code("revoked", 100)
                }
                .into_active_model(),
            )
            .await
            .unwrap();
        let store_grant =
            |user_id: &str, spent, key: &str| store.grant_tokens.submit(grant(user_id, spent, key));
        let (live, revoked, unknown_refresh, ghost) = tokio::join!(
            store_grant("u", Code("live".into()), "a"),
            store_grant("u", Code("revoked".into()), "b"),
            store_grant("u", Refresh("unknown".into()), "c"),
            store_grant("ghost", Code("live".into()), "d"),
        );
        let live = live.unwrap().expect("the user exists");
        assert_eq!((live.user.id.as_str(), live.revoked), ("u", false));
        assert!(revoked.unwrap().unwrap().revoked);
        assert!(unknown_refresh.unwrap().unwrap().revoked);
        assert!(ghost.unwrap().is_none(), "no such user");
        for key in ["a", "b", "c", "d"] {
            let stored = store.find_access_token(key, -1).await.unwrap();
            assert!(stored.is_some(), "{key} is stored");
        }
    }

    /// On the current-thread runtime the three inserts are queued before the writing task runs,
    /// so they form one batch, which the duplicate makes fail as a whole.
    #[tokio::test]
    async fn a_refused_row_does_not_spoil_its_batch() {
        let (_dir, store) = migrated_store().await;
        let batcher = &store.access_tokens;
        batcher.submit(token("a")).await.unwrap();
        let (again, b, c) = tokio::join!(
            batcher.submit(token("a")),
            batcher.submit(token("b")),
            batcher.submit(token("c"))
        );
        assert!(again.is_err(), "the duplicate is refused");
        assert!(b.is_ok() && c.is_ok(), "{b:?} {c:?}");
        for hash in ["a", "b", "c"] {
            assert!(store.find_access_token(hash, -1).await.unwrap().is_some());
        }
    }
}
