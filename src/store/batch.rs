//! Group commit for the inserts of the authorize and token endpoints (codes, access and refresh
//! tokens). Each insert on its own is a database round trip and, on SQLite, a turn at the one
//! writer connection; under load most of a write's cost is that hand-off, not the row. So the
//! rows that arrive while one batch is being written go together into the next, as one
//! multi-row `INSERT`. A request alone waits for nobody: its batch is itself.
//!
//! A caller's row is committed when [`Batcher::insert`] returns `Ok`, as with a plain insert,
//! so the ordering arguments of the grants module hold unchanged. When a batch fails, each of
//! its rows is tried alone when a constraint refused it (one row may have spoiled it for the
//! others); any other failure is every row's answer. A caller that goes away still has its row
//! written, a token nobody holds.
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Rows per statement: enough to absorb the 64 connections of the benchmark, far below the
/// bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535).
const MAX_BATCH: usize = 64;

type Queued<A> = (A, oneshot::Sender<Result<(), DbErr>>);

/// Inserts rows of one table through a background task that writes them in batches.
#[derive(Debug)]
pub(super) struct Batcher<A> {
    queue: mpsc::Sender<Queued<A>>,
}

impl<A> Clone for Batcher<A> {
    fn clone(&self) -> Self {
        Batcher {
            queue: self.queue.clone(),
        }
    }
}

impl<A> Batcher<A>
where
    A: ActiveModelTrait + Clone + Send + 'static,
{
    /// Starts the writing task; it ends when the last clone of the batcher is dropped.
    pub(super) fn start(writer: DatabaseConnection) -> Batcher<A> {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 16);
        tokio::spawn(write_batches(writer, receiver));
        Batcher { queue }
    }

    /// Whether the writing task still runs (it stops only if it panicked).
    pub(super) fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }

    /// Inserts `row`; returns once it is committed.
    pub(super) async fn insert(&self, row: A) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((row, reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(answer.await.map_err(|_| StoreError::WriterStopped)??)
    }
}

async fn write_batches<A>(writer: DatabaseConnection, mut receiver: mpsc::Receiver<Queued<A>>)
where
    A: ActiveModelTrait + Clone + Send + 'static,
{
    let mut batch: Vec<Queued<A>> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rows = batch.iter().map(|(row, _)| row.clone());
        let written = A::Entity::insert_many(rows)
            .exec_without_returning(&writer)
            .await;
        match written {
            Ok(_) => {
                for (_, reply) in batch.drain(..) {
                    // A caller that has gone away does not need the answer.
                    let _ = reply.send(Ok(()));
                }
            }
            // One row may have spoiled the batch for the others: each is tried alone.
            Err(error) if batch.len() > 1 && error.sql_err().is_some() => {
                for (row, reply) in batch.drain(..) {
                    let alone = A::Entity::insert(row).exec_without_returning(&writer).await;
                    let _ = reply.send(alone.map(drop));
                }
            }
            // The database failed as a whole (busy, gone, full): every row gets that answer.
            Err(error) => {
                let message = error.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(DbErr::Custom(message.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::IntoActiveModel;

    use super::super::Store;
    use super::super::tables::access_token;

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
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        let (queue, receiver) = tokio::sync::mpsc::channel(1);
        drop(receiver);
        store.refresh_tokens = super::Batcher { queue };
        assert!(matches!(
            store.ping().await,
            Err(super::StoreError::WriterStopped)
        ));
    }

    /// On the current-thread runtime the three inserts are queued before the writing task runs,
    /// so they form one batch, which the duplicate makes fail as a whole.
    #[tokio::test]
    async fn a_refused_row_does_not_spoil_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let batcher = &store.access_tokens;
        batcher.insert(token("a")).await.unwrap();
        let (again, b, c) = tokio::join!(
            batcher.insert(token("a")),
            batcher.insert(token("b")),
            batcher.insert(token("c"))
        );
        assert!(again.is_err(), "the duplicate is refused");
        assert!(b.is_ok() && c.is_ok(), "{b:?} {c:?}");
        for hash in ["a", "b", "c"] {
            assert!(store.find_access_token(hash, -1).await.unwrap().is_some());
        }
    }
}
