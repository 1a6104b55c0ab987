//! `migration up|down|status|fresh|refresh|reset`: manages the schema of the database named
//! by `--database-url`, `DATABASE_URL` (environment or `.env`), or the default SQLite file
//! `flowrex_dev.db`. SQLAlchemy URLs from the original service's `.env` work too.

use anyhow::Context;
use clap::Parser;
use flowrex_infrastructure::database::{self, DatabaseSettings, DatabaseUrl};
use migration::cli::{self, MigrateCommand};

/// Default as the server's: a SQLite file in the working directory.
const DEFAULT_DATABASE_URL: &str = "sqlite://flowrex_dev.db";

#[derive(Debug, Parser)]
#[command(version, about = "Flowrex database migrations")]
struct Args {
    /// Database URL (sqlite://, postgres://, mysql://, or SQLAlchemy's forms).
    #[arg(short = 'u', long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Option<MigrateCommand>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    // `.env` fills in what the environment does not set, as for the server. Parsed here
    // rather than loaded into the process environment.
    let dotenv_url = dotenvy::from_path_iter(".env").ok().and_then(|vars| {
        vars.filter_map(Result::ok)
            .find(|(key, _)| key.eq_ignore_ascii_case("DATABASE_URL"))
            .map(|(_, value)| value)
    });
    let args = Args::parse();
    let raw = args
        .database_url
        .filter(|url| !url.trim().is_empty())
        .or(dotenv_url)
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let url = DatabaseUrl::parse(&raw).context("DATABASE_URL is not usable")?;
    let db = database::connect(&DatabaseSettings::new(url.clone()))
        .await
        .with_context(|| format!("failed to connect to {url}"))?;
    cli::run(
        &db,
        args.command.unwrap_or(MigrateCommand::Up { num: None }),
    )
    .await
    .context("migration failed")?;
    db.close().await.context("failed to close the database")?;
    Ok(())
}
