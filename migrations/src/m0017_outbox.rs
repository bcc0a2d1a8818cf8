use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Notifications waiting for (or done with) delivery to a webhook: one row per event and
/// subscribed webhook, written in the transaction of the change that caused the event.
#[derive(DeriveIden)]
enum Outbox {
    Table,
    /// Random; also the payload's `meta.id`, the receiver's idempotency key.
    Id,
    /// Hex SHA-256 of the webhook's URL.
    Webhook,
    EventType,
    /// The JSON payload, fixed when the event happened.
    Body,
    CreatedAt,
    /// Attempts started so far (counted when a process claims the row).
    Attempts,
    NextAttemptAt,
    /// A process is delivering it until then.
    LockedUntil,
    DeliveredAt,
    GivenUpAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(string(Outbox::Id).primary_key())
                    .col(string(Outbox::Webhook))
                    .col(string(Outbox::EventType))
                    .col(text(Outbox::Body))
                    .col(big_integer(Outbox::CreatedAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(big_integer(Outbox::NextAttemptAt))
                    .col(big_integer_null(Outbox::LockedUntil))
                    .col(big_integer_null(Outbox::DeliveredAt))
                    .col(big_integer_null(Outbox::GivenUpAt))
                    .col(text_null(Outbox::LastError))
                    .to_owned(),
            )
            .await?;
        // The worker looks for due rows; the sweep for old ones.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_next_attempt")
                    .table(Outbox::Table)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_created")
                    .table(Outbox::Table)
                    .col(Outbox::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}
