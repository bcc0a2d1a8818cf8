//! Notifications (SPEC section 8). A change that other systems must hear of (a login, a profile
//! created or updated) writes one outbox row per subscribed webhook **in its own transaction**,
//! through [`crate::store::enqueue_notification`] (the [`crate::store::Notification`] and the
//! event types of [`crate::vocabulary::events`] are the store's and the vocabulary's, so that
//! the store needs nothing from here); [`delivery`] then POSTs each row, signed with
//! [`signature`], until the webhook acknowledges it with a 2xx or the attempts run out. The JSON
//! schemas of the payloads are served by [`schemas`].
pub mod delivery;
pub mod schemas;
pub mod signature;
