use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use meterguard::clock::Clock;
use meterguard::config::{DatabaseSettings, LogFormat, Settings};
use meterguard::domain::user::UserFields;
use meterguard::service;
use meterguard::startup::{shutdown_signal, Application};
use meterguard::store::Db;
use meterguard::telemetry;
use std::io::BufRead;

// glibc malloc spent a fifth of a list request's CPU across the runtime and SQLite threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "meterguard",
    version,
    about = "Keeps organizations inside their usage limits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (migrating the database first).
    Serve(Box<Settings>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseSettings),
    /// Create a staff user and print a token for it on the last line. The password is read from
    /// METERGUARD_PASSWORD or, failing that, the first line of standard input.
    CreateStaffUser {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        email: String,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

impl Cli {
    /// Parses the command line. Help shows which variable sets each option but never its value:
    /// `DATABASE_URL` may hold a password, `METERGUARD_WEBHOOK_SECRET` is one.
    fn parse_hiding_env_values() -> Self {
        let command = Self::command().mut_subcommands(|sub| sub.mut_args(|arg| arg.hide_env_values(true)));
        Self::from_arg_matches(&command.get_matches()).unwrap_or_else(|err| err.exit())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse_hiding_env_values().command {
        Command::Serve(settings) => {
            telemetry::init(settings.log_format);
            let app = Application::build(*settings, Clock::System).await?;
            app.run(shutdown_signal()).await
        }
        Command::Migrate(database) => {
            telemetry::init(LogFormat::Text);
            Db::connect(&database).await?.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateStaffUser {
            username,
            email,
            database,
        } => {
            telemetry::init(LogFormat::Text);
            let password = match std::env::var("METERGUARD_PASSWORD") {
                Ok(p) => p,
                Err(_) => read_password()?,
            };
            let db = Db::connect(&database).await?;
            db.migrate().await?;
            let now = Clock::System.now_micros();
            let fields = UserFields {
                username,
                email,
                is_staff: true,
                is_active: true,
                ..Default::default()
            };
            let id = service::users::create(&db, &fields, Some(&password), now).await?;
            let token = service::users::issue_token(&db, id, now).await?;
            println!("created staff user {}", fields.username);
            println!("{token}");
            Ok(())
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!password.is_empty(), "no password given (METERGUARD_PASSWORD or stdin)");
    Ok(password)
}
