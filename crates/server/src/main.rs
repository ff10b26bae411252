//! `coffer`: serve the API, migrate, mint dev tokens, administer tenants.

use clap::Parser as _;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = coffer_server::cli::Cli::parse();
    match coffer_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("coffer: {err}");
            // Client commands exit with their failure class (docs/client.md).
            err.downcast_ref::<coffer_cli::Failure>()
                .map_or(std::process::ExitCode::FAILURE, |f| {
                    std::process::ExitCode::from(f.exit)
                })
        }
    }
}
