//! The words every layer shares: the key a client address is counted under, the audit trail's
//! event kinds, notification event types, host and domain patterns, the connection ids idbridge
//! reserves, the bounds of webhook delivery, the outbox names of back-channel logout, and OAuth's
//! scopes, prompts and response modes. They sit below `config` and `store` (docs/architecture.md,
//! "Layers"), so that both can name them without importing a feature module; this module imports
//! nothing of the crate.
pub mod addresses;
pub mod audit;
pub mod connections;
pub mod delivery;
pub mod domains;
pub mod events;
pub mod logout;
pub mod prompt;
pub mod response_mode;
pub mod scope;
