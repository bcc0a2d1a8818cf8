//! The `idbridge` command line (SPEC section 2).
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use idbridge::admin::cli::AdminArgs;
use idbridge::config::{self, Config, ConfigError};
use idbridge::store::Store;
use idbridge::{AppState, Clock, demo};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "idbridge",
    version,
    about = "Identity-provider bridge: SAML and OpenID Connect logins upstream, an OpenID Connect provider downstream",
    after_help = "Environment: IDBRIDGE_CONFIG (config file), IDBRIDGE_DATABASE_URL, IDBRIDGE_BIND, \
                  IDBRIDGE_ISSUER override the file; RUST_LOG sets the log filter (default info)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. With no config file (and no IDBRIDGE_CONFIG) it runs the embedded demo:
    /// SQLite in ./idbridge.db, http://127.0.0.1:8080, a demo user and client.
    Serve {
        /// TOML config file (see docs/configuration.md).
        #[arg(long, env = "IDBRIDGE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long, env = "IDBRIDGE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Validate a config file: print every problem with its key path, exit 1 if there is any.
    CheckConfig {
        /// TOML config file.
        file: PathBuf,
    },
    /// Read a password on standard input and print its argon2id PHC string, for `password_hash`.
    HashPassword,
    /// Administer users, API credentials and the audit trail against the database directly (the
    /// admin API's operations, audited with the actor `cli`); see docs/admin.md.
    Admin {
        #[arg(long, env = "IDBRIDGE_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// mimalloc rather than glibc's malloc: under a server's load glibc kept freed pages in per-thread
/// arenas (RSS grew 25 MiB a minute in the soak, and every blocking thread that had checked a
/// password held a 19 MiB argon2 block for good), and its malloc and free took an eighth of the
/// CPU of the hot endpoints. See docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` (its header's `mi_option_e`; the crate names no
/// constant for it).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// By default mimalloc commits its whole first arena at once on Linux and never hands back what
/// is freed in it, which kept about 14 MiB more resident at idle (35 MiB where glibc's malloc held
/// 27); committed and purged page by page, the idle server holds 21-23 MiB. The arena is made at
/// the first allocation, before `main` (the standard library allocates while it starts), so the
/// option is set from the binary's initialisers.
extern "C" fn commit_heap_memory_on_demand() {
    // SAFETY: sets an allocator option, before the program's first allocation.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) }
}

#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_HEAP_MEMORY_ON_DEMAND: extern "C" fn() = commit_heap_memory_on_demand;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => serve(config.as_deref()).await,
            Command::Migrate { config } => migrate(config.as_deref()).await,
            Command::CheckConfig { file } => check_config(&file),
            Command::HashPassword => hash_password(),
            Command::Admin { config, admin } => administer(config.as_deref(), admin).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("idbridge: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        Some(path) => Config::load_file(path, &config::process_env),
        None => demo::config(&config::process_env),
    }
}

async fn serve(path: Option<&Path>) -> Result<(), String> {
    let config = load(path).map_err(|e| e.to_string())?;
    let bind = config.server.bind;
    let issuer = config.server.issuer.clone();
    if config.keys.encryption_key.is_none() {
        tracing::warn!(
            "demo mode: keys.encryption_key is not set, private signing keys are stored in the database in clear"
        );
    }
    let state = AppState::prepare(config, Clock::system())
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    tracing::info!(%bind, %issuer, "idbridge is listening");
    if path.is_none() {
        println!("idbridge is running: open {issuer}/demo");
        println!(
            "demo mode (no config file): sign in as {} with password {}",
            demo::DEMO_EMAIL,
            demo::DEMO_PASSWORD
        );
    } else {
        println!("idbridge is running: open {issuer}/account");
    }
    idbridge::serve(listener, state, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn migrate(path: Option<&Path>) -> Result<(), String> {
    let config = load(path).map_err(|e| e.to_string())?;
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    println!("migrations applied");
    Ok(())
}

async fn administer(path: Option<&Path>, args: AdminArgs) -> Result<(), String> {
    let config = load(path).map_err(|e| e.to_string())?;
    let printed = idbridge::admin::cli::run(&config, args)
        .await
        .map_err(|e| e.to_string())?;
    println!("{printed}");
    Ok(())
}

fn check_config(file: &Path) -> Result<(), String> {
    Config::load_file(file, &config::process_env).map_err(|e| e.to_string())?;
    println!("{}: ok", file.display());
    Ok(())
}

fn hash_password() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .take(idbridge::password_check::MAX_PASSWORD_LEN as u64 + 2)
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    if password.len() > idbridge::password_check::MAX_PASSWORD_LEN {
        return Err(format!(
            "password longer than {} bytes",
            idbridge::password_check::MAX_PASSWORD_LEN
        ));
    }
    let hash = idbridge::password::hash_blocking(password).map_err(|e| e.to_string())?;
    println!("{hash}");
    Ok(())
}
