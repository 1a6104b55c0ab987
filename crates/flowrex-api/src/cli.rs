//! The `flowrex` command line: `serve` (the default), `migrate`, `user create|deactivate`
//! and `config check`. Every command reads the same configuration as the server.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use flowrex_domain::{
    AdminError, EmailAddress, FullName, NewPassword, RegisterError, Registration,
};
use migration::cli::MigrateCommand;

use crate::settings::Settings;
use crate::startup::{self, Application};
use flowrex_infrastructure::RangeSource;

/// The Flowrex authentication service.
#[derive(Debug, Parser)]
#[command(name = "flowrex", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Manage the database schema: up, down, status, fresh, refresh, reset.
    Migrate {
        /// The migration command.
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// Manage users.
    User {
        /// The user command.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check passwords against the configured breach source.
    Password {
        /// The password command.
        #[command(subcommand)]
        command: PasswordCommand,
    },
    /// Inspect the configuration.
    Config {
        /// The config command.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `flowrex user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, its address taken as verified (the operator vouches for it). The
    /// password is read from a prompt, or from the first line of standard input when it is
    /// not a terminal — never from the command line.
    Create {
        /// The login address.
        #[arg(long)]
        email: String,
        /// An optional display name.
        #[arg(long)]
        full_name: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        superuser: bool,
    },
    /// Make a user a superuser (an administrator), or with `--revoke` no longer one; the
    /// last active superuser cannot be revoked.
    Superuser {
        /// The user's login address.
        email: String,
        /// Take the superuser right away instead of giving it.
        #[arg(long)]
        revoke: bool,
    },
    /// Deactivate a user: it can no longer log in and its sessions end at once.
    Deactivate {
        /// The login address.
        #[arg(long)]
        email: String,
    },
}

/// `flowrex password …`.
#[derive(Debug, Subcommand)]
pub enum PasswordCommand {
    /// Say whether a password is in the configured breach source
    /// (`PASSWORD_BREACH_CHECK`): exit 0 when not, 1 when it is, 2 when the check is off or
    /// the source fails. The password is read from a prompt, or from the first line of
    /// standard input when it is not a terminal — never from the command line.
    Check,
}

/// `flowrex config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets redacted; exit 2 on a bad value.
    Check,
}

/// Runs a command other than `serve`.
///
/// # Errors
/// What went wrong, for `main` to print.
pub async fn run(settings: Settings, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?;
        }
        Command::Migrate { command } => {
            let db = startup::connect(&settings).await?;
            migration::cli::run(&db, command)
                .await
                .context("migration failed")?;
            db.close().await.context("closing the database")?;
        }
        Command::User { command } => return user(settings, command).await,
        Command::Password {
            command: PasswordCommand::Check,
        } => return check_password(&settings).await,
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            for (name, value) in settings.listing() {
                println!("{name} = {value}");
            }
            // Each value is valid (else `main` exited already); together they must work.
            if let Err(error) = startup::check_offline(&settings) {
                eprintln!("flowrex: configuration error: {error}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn user(settings: Settings, command: UserCommand) -> anyhow::Result<ExitCode> {
    let (db, services) = startup::open_service(&settings).await?;
    let admin = services.admin;
    let outcome = match command {
        UserCommand::Create {
            email,
            full_name,
            superuser,
        } => {
            let email = EmailAddress::parse(&email).context("--email is not a valid address")?;
            let full_name = full_name
                .map(FullName::parse)
                .transpose()
                .context("--full-name is too long")?;
            let password = NewPassword::parse(read_password()?).context("the password")?;
            let shown = email.to_string();
            let registration = Registration {
                email,
                password,
                full_name,
            };
            match admin.create_user(registration, superuser, true).await {
                Ok(user) => {
                    println!(
                        "created user {} <{}>{}",
                        user.id(),
                        user.email(),
                        if user.is_superuser() {
                            " (superuser)"
                        } else {
                            ""
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(RegisterError::EmailTaken) => {
                    eprintln!("flowrex: {shown} is already registered");
                    Ok(ExitCode::from(1))
                }
                Err(RegisterError::PasswordBreached) => {
                    eprintln!(
                        "flowrex: this password appears in a known data breach; choose another"
                    );
                    Ok(ExitCode::from(1))
                }
                Err(error) => Err(anyhow::Error::new(error)),
            }
        }
        UserCommand::Superuser { email, revoke } => {
            let email = EmailAddress::parse(&email).context("EMAIL is not a valid address")?;
            match admin.set_superuser(&email, !revoke).await {
                Ok(Some(user)) => {
                    let state = if user.is_superuser() {
                        "now a superuser"
                    } else {
                        "no longer a superuser"
                    };
                    println!("{} is {state}", user.email());
                    Ok(ExitCode::SUCCESS)
                }
                Ok(None) => {
                    eprintln!("flowrex: no user {email}");
                    Ok(ExitCode::from(1))
                }
                Err(AdminError::LastSuperuser) => {
                    eprintln!(
                        "flowrex: {email} is the last active superuser; make another one first"
                    );
                    Ok(ExitCode::from(1))
                }
                Err(error) => Err(anyhow::Error::new(error)),
            }
        }
        UserCommand::Deactivate { email } => {
            let email = EmailAddress::parse(&email).context("--email is not a valid address")?;
            if admin.deactivate(&email).await? {
                println!("deactivated {email}; its sessions are revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("flowrex: no user {email}");
                Ok(ExitCode::from(1))
            }
        }
    };
    db.close().await.context("closing the database")?;
    outcome
}

/// `flowrex password check`.
async fn check_password(settings: &Settings) -> anyhow::Result<ExitCode> {
    let policy = startup::breach_policy(&settings.breaches)?;
    let Some(source) = policy.source else {
        eprintln!("flowrex: PASSWORD_BREACH_CHECK is off: nothing to check against");
        return Ok(ExitCode::from(2));
    };
    let where_ = match &settings.breaches.source {
        Some(RangeSource::Api { base }) => format!("the range API at {base}"),
        Some(RangeSource::Files { dir }) => format!("the range files in {}", dir.display()),
        None => String::new(),
    };
    let password = read_secret(false)?;
    match source.occurrences(&password).await {
        Ok(count) if count >= policy.min_count => {
            println!("breached: found {count} times in {where_}");
            Ok(ExitCode::from(1))
        }
        Ok(count) => {
            println!(
                "not breached: {} in {where_} (PASSWORD_BREACH_MIN_COUNT is {})",
                if count == 0 {
                    "not found".to_owned()
                } else {
                    format!("found {count} times")
                },
                policy.min_count
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("flowrex: {where_} could not answer: {:#}", error.0);
            Ok(ExitCode::from(2))
        }
    }
}

/// The new password: prompted twice on a terminal, else the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    read_secret(true)
}

/// A password: prompted on a terminal (twice when `confirm`), else the first line of
/// standard input.
fn read_secret(confirm: bool) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password("Password: ").context("reading the password")?;
        if !confirm {
            return Ok(password);
        }
        let again =
            rpassword::prompt_password("Password again: ").context("reading the password")?;
        if password != again {
            bail!("the passwords differ");
        }
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}
