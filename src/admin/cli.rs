//! `idbridge admin …`: the admin API's operations run against the database directly, for the
//! first admin credential on an empty database and for scripts. Changes are audited with the
//! actor `cli`, and checked by the same rules as through the API.
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::Page;
use super::audit::AuditView;
use super::credentials::{CreatedCredential, CredentialView};
use super::users::{ConsentView, RevokedAccess, SessionView, UserView};

use super::declared::DeclaredView;
use super::{AdminError, audit, audited, credentials, declared, users};
use crate::clock::Clock;
use crate::config::{Config, Declaration, Kind};
use crate::store::{Actor, DeclarationChange, Initiator, Store};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Output::Text, global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One line per item, for people.
    Text,
    /// JSON, as the admin API answers, for scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an API credential and print its secret (shown once). On an empty database this
    /// makes the first admin credential: `--scope admin:read --scope admin:write`.
    CreateCredential {
        #[arg(long)]
        username: String,
        /// A scope (repeat): session_urls, sso_urls, admin:read, admin:write.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// Revoke an API credential made through the API or this command.
    DeleteCredential { username: String },
    /// List the API credentials (never their secrets).
    Credentials,
    /// Find users.
    Users {
        /// Part of the email address or name.
        #[arg(long)]
        query: Option<String>,
        #[arg(long)]
        entity: Option<String>,
        /// config, session_url, or a connection id.
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        disabled: Option<bool>,
        #[arg(long)]
        limit: Option<u64>,
        /// The next_cursor a page before printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Disable a user: their sessions end, their tokens are revoked, no login succeeds.
    DisableUser { id: String },
    /// Enable a disabled user again.
    EnableUser { id: String },
    /// List a user's live sessions.
    Sessions { id: String },
    /// List what a user allowed which client.
    Consents { id: String },
    /// End every session of a user and revoke every token issued to them.
    RevokeUser { id: String },
    /// Delete a user with their sessions, tokens and consents.
    DeleteUser { id: String },
    /// List the clients, entities, connections, products or service_providers in force (the file's and run-time
    /// ones).
    Declared {
        /// clients, entities, connections, products or service_providers.
        kind: String,
    },
    /// Make a client, entity, connection or product from its declaration (a JSON file, as the
    /// config file would hold it; `-` reads standard input). A secret idbridge makes for it is
    /// printed once. Running servers take it within seconds.
    Declare {
        /// clients, entities, connections, products or service_providers.
        kind: String,
        /// The JSON file.
        file: std::path::PathBuf,
    },
    /// Replace a run-time client, entity, connection or product with the declaration in a JSON
    /// file (`-`: standard input); secrets it leaves out are kept.
    Redeclare {
        /// clients, entities, connections, products or service_providers.
        kind: String,
        /// The JSON file.
        file: std::path::PathBuf,
    },
    /// Give a run-time client or product a new secret, printed once.
    RotateSecret {
        /// clients or products.
        kind: String,
        id: String,
    },
    /// Delete a run-time client, entity, connection or product.
    Undeclare {
        /// clients, entities, connections, products or service_providers.
        kind: String,
        id: String,
        /// For an entity: also the run-time entities below it, detaching their users.
        #[arg(long)]
        cascade: bool,
    },
    /// Show the audit trail, oldest first.
    Audit {
        /// Events at or after this time (Unix seconds).
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// Runs `args` against the database of `config` (migrated first), and returns what to print.
pub async fn run(file_config: &Config, args: AdminArgs) -> Result<String, AdminError> {
    let store = Store::connect(&file_config.database_url).await?;
    store.migrate().await?;
    let key = file_config.keys.encryption_key.as_ref();
    // With the run-time clients, whose sessions a user's revocation ends too. When the file
    // contradicts a run-time declaration, the file alone: the command that deletes that
    // declaration (`undeclare`) must still run.
    let with_run_time = store.config_with_run_time(file_config, key).await?;
    let config = &with_run_time.unwrap_or_else(|problems| {
        for problem in problems {
            eprintln!("warning: a run-time declaration does not fit the config file: {problem}");
        }
        file_config.clone()
    });
    let by = Initiator {
        actor: Actor::Cli,
        client_addr: None,
    };
    let now = Clock::system().now();
    let output = args.output;
    match args.command {
        AdminCommand::CreateCredential { username, scopes } => {
            let asked = serde_json::json!({ "resource": "api_credential", "action": "create" });
            let new = credentials::NewCredential { username, scopes };
            let rules = credentials::Rules {
                config,
                grantable: None,
            };
            let made = audited(&store, &by, asked, now, async {
                credentials::make(&store, rules, new, &by, now).await
            })
            .await?;
            Ok(render(&made, output))
        }
        AdminCommand::DeleteCredential { username } => {
            let asked = serde_json::json!({ "resource": "api_credential", "id": username,
                                             "action": "delete" });
            audited(&store, &by, asked, now, async {
                credentials::revoke(&store, &username, &by, now).await
            })
            .await?;
            Ok(format!("revoked {username}"))
        }
        AdminCommand::Credentials => Ok(render(&credentials::all(&store).await?, output)),
        AdminCommand::Users {
            query,
            entity,
            source,
            disabled,
            limit,
            cursor,
        } => {
            let query = users::UserListQuery {
                q: query,
                entity,
                source,
                disabled,
                limit,
                cursor,
            };
            Ok(render(&users::find(&store, query).await?, output))
        }
        AdminCommand::DisableUser { id } => {
            let changed = set_disabled(&store, config, &by, now, &id, true).await?;
            Ok(render(&changed, output))
        }
        AdminCommand::EnableUser { id } => {
            let changed = set_disabled(&store, config, &by, now, &id, false).await?;
            Ok(render(&changed, output))
        }
        AdminCommand::Sessions { id } => {
            Ok(render(&users::sessions_of(&store, &id, now).await?, output))
        }
        AdminCommand::Consents { id } => {
            Ok(render(&users::consents_of(&store, &id).await?, output))
        }
        AdminCommand::RevokeUser { id } => {
            let asked = serde_json::json!({ "resource": "user", "id": id,
                                             "action": "revoke_access" });
            let revoked = audited(&store, &by, asked, now, async {
                users::revoke(&store, config, &id, &by, now).await
            })
            .await?;
            Ok(render(&revoked, output))
        }
        AdminCommand::DeleteUser { id } => {
            let asked = serde_json::json!({ "resource": "user", "id": id, "action": "delete" });
            audited(&store, &by, asked, now, async {
                users::remove(&store, config, &id, None, &by, now).await
            })
            .await?;
            Ok(format!("deleted {id}"))
        }
        AdminCommand::Declared { kind } => {
            let kind = declared::kind_of(&kind)?;
            let stored = store.run_time_declarations(key).await?;
            let views: Vec<DeclaredView> = declared::views(config, &stored, kind)
                .into_iter()
                .map(|(_, view)| view)
                .collect();
            Ok(render(&views, output))
        }
        AdminCommand::Declare { kind, file } => {
            let asked = serde_json::json!({ "resource": kind, "action": "create" });
            audited(&store, &by, asked, now, async {
                let mut declaration = read_declaration(&kind, &file)?;
                let secret = declared::made_secret(&mut declaration)?;
                let (noun, id) = (declaration.kind.noun(), declaration.id.clone());
                let change = DeclarationChange::Create(declaration);
                declared::make(&store, file_config, key, change, &by, now).await?;
                Ok(with_secret(format!("made {noun} {id}"), secret))
            })
            .await
        }
        AdminCommand::Redeclare { kind, file } => {
            let asked = serde_json::json!({ "resource": kind, "action": "update" });
            audited(&store, &by, asked, now, async {
                let declaration = read_declaration(&kind, &file)?;
                let (noun, id) = (declaration.kind.noun(), declaration.id.clone());
                let change = declared::replacement(id.clone(), None, declaration)?;
                declared::make(&store, file_config, key, change, &by, now).await?;
                Ok(format!("changed {noun} {id}"))
            })
            .await
        }
        AdminCommand::RotateSecret { kind, id } => {
            let asked = serde_json::json!({ "resource": kind, "id": id,
                                             "action": "rotate_secret" });
            audited(&store, &by, asked, now, async {
                let kind = declared::kind_of(&kind)?;
                if !matches!(kind, Kind::Client | Kind::Product) {
                    return Err(AdminError::invalid("kind", "only clients and products"));
                }
                let (change, secret) = declared::rotation(kind, id.clone(), None);
                declared::make(&store, file_config, key, change, &by, now).await?;
                Ok(with_secret(
                    format!("rotated the secret of {id}"),
                    Some(secret),
                ))
            })
            .await
        }
        AdminCommand::Undeclare { kind, id, cascade } => {
            let asked = serde_json::json!({ "resource": kind, "id": id, "action": "delete" });
            audited(&store, &by, asked, now, async {
                let kind = declared::kind_of(&kind)?;
                let change = DeclarationChange::Delete {
                    kind,
                    id: id.clone(),
                    version: None,
                    cascade,
                };
                declared::make(&store, file_config, key, change, &by, now).await
            })
            .await?;
            Ok(format!("deleted {id}"))
        }
        AdminCommand::Audit {
            from,
            kind,
            user,
            actor,
            limit,
            cursor,
        } => {
            let query = audit::AuditQuery {
                from,
                until: None,
                kind,
                user,
                actor,
                limit,
                cursor,
            };
            Ok(render(&audit::events(&store, query).await?, output))
        }
    }
}

/// The declaration of `kind` in the JSON `file` (`-`: standard input).
fn read_declaration(kind: &str, file: &std::path::Path) -> Result<Declaration, AdminError> {
    let kind = declared::kind_of(kind)?;
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| AdminError::invalid("file", e.to_string()))?;
    let body = serde_json::from_str(&text)
        .map_err(|e| AdminError::invalid("file", format!("not JSON: {e}")))?;
    declared::declaration(kind, body)
}

/// `done`, and the secret made for it, printed this once.
fn with_secret(done: String, secret: Option<String>) -> String {
    match secret {
        Some(secret) => format!("{done}\nsecret: {secret}\n(shown this once)"),
        None => done,
    }
}

/// Disables or enables the user `id`.
async fn set_disabled(
    store: &Store,
    config: &Config,
    by: &Initiator,
    now: i64,
    id: &str,
    disabled: bool,
) -> Result<UserView, AdminError> {
    let asked = serde_json::json!({ "resource": "user", "id": id, "action": "update" });
    let patch = users::UserPatch {
        email: None,
        name: None,
        disabled: Some(disabled),
    };
    let changed = audited(store, by, asked, now, async {
        users::change(store, config, id, patch, None, by, now).await
    })
    .await?;
    Ok(UserView::from(&changed))
}

/// What a command prints: JSON as the admin API answers, or lines for people.
trait Printed {
    fn text(&self) -> String;
}

/// `value` as `output` asks.
fn render<T: Printed + Serialize>(value: &T, output: Output) -> String {
    match output {
        Output::Text => value.text(),
        Output::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
    }
}

impl Printed for CreatedCredential {
    fn text(&self) -> String {
        format!(
            "{}\nsecret: {}\n(shown this once; idbridge keeps only its hash)",
            self.credential.text(),
            self.secret
        )
    }
}

impl Printed for Vec<DeclaredView> {
    fn text(&self) -> String {
        let lines: Vec<String> = self
            .iter()
            .map(|view| serde_json::to_string(view).unwrap_or_default())
            .collect();
        lines.join("\n")
    }
}

impl Printed for CredentialView {
    fn text(&self) -> String {
        format!(
            "{}  scopes={}  managed_by={}",
            self.username,
            self.scopes.join(","),
            self.managed_by
        )
    }
}

impl Printed for UserView {
    fn text(&self) -> String {
        format!(
            "{}  {}  {:?}  source={}{}",
            self.id,
            self.email,
            self.name,
            self.source,
            if self.disabled { "  disabled" } else { "" }
        )
    }
}

impl Printed for AuditView {
    fn text(&self) -> String {
        format!(
            "{}  at={}  {}  actor={}  user={}  {}",
            self.id,
            self.at,
            self.kind,
            self.actor,
            self.user_id.as_deref().unwrap_or("-"),
            self.details
        )
    }
}

impl Printed for SessionView {
    fn text(&self) -> String {
        format!(
            "{}  since={}  until={}  from={}  {:?}",
            self.sid, self.auth_time, self.expires_at, self.client_addr, self.user_agent
        )
    }
}

impl Printed for ConsentView {
    fn text(&self) -> String {
        format!(
            "{}  scope={:?}  at={}",
            self.client_id, self.scope, self.granted_at
        )
    }
}

impl Printed for RevokedAccess {
    fn text(&self) -> String {
        format!(
            "{} sessions ended; every token revoked",
            self.sessions_ended
        )
    }
}

impl<T: Printed> Printed for Vec<T> {
    fn text(&self) -> String {
        self.iter()
            .map(Printed::text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl<T: Printed + utoipa::ToSchema> Printed for Page<T> {
    fn text(&self) -> String {
        let mut lines = self.items.text();
        if let Some(cursor) = &self.next_cursor {
            lines.push_str(&format!("\nmore: --cursor {cursor}"));
        }
        lines
    }
}
