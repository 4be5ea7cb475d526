//! The scheduled jobs. Each Cron Trigger in wrangler.toml names its job by its own expression,
//! and [`run`] dispatches on that expression alone, so a job never runs another's work. Jobs
//! scan across users, in bounded batches; they run only here, never for a request.

use worker::Env;

use crate::{
    config::Config,
    store::{self, sql::Cleanup, Cleaned},
    telemetry,
};

/// The clean-up's expression in wrangler.toml `[triggers] crons`: hourly, at minute 17 (off
/// the hour, when other people's jobs pile up).
pub const CLEANUP_CRON: &str = "17 * * * *";

/// What one clean-up statement removes at most, and what it keeps per user. 10,000 keys is
/// a day of an app's creates, or eight minutes at the rate limit; 10,000 tombstones cover a
/// deleted list of the largest size.
pub const CLEANUP: Cleanup = Cleanup {
    batch: 10_000,
    keys_per_user: 10_000,
    tombstones_per_user: 10_000,
};

/// At most this many statements per run: a run removes at most `CLEANUP.batch` times this
/// of each kind (100,000), more than one user at the rate limit adds in an hour (72,000).
pub const CLEANUP_ROUNDS: u32 = 10;

/// Runs the job that `cron` names; an expression with no job is logged and does nothing.
pub async fn run(cron: &str, env: &Env) -> Result<(), String> {
    let config = Config::for_isolate(env);
    let config = config.as_ref().as_ref().map_err(|error| error.0.clone())?;
    match cron {
        CLEANUP_CRON => clean_up(config, env, cron).await,
        other => {
            telemetry::error_line("no job has this cron expression", other);
            Ok(())
        }
    }
}

/// Removes expired and excess bookkeeping rows, a batch at a time, until a batch comes back
/// short or the run has made its rounds.
async fn clean_up(config: &Config, env: &Env, cron: &str) -> Result<(), String> {
    let store = store::open_maintenance(&config.database, env);
    let mut total = Cleaned::default();
    let mut rounds = 0;
    while rounds < CLEANUP_ROUNDS {
        let cleaned = store
            .clean_up(&CLEANUP)
            .await
            .map_err(|error| format!("the clean-up failed: {error:?}"))?;
        rounds += 1;
        total.add(&cleaned);
        // A full batch of any kind may have left more of it.
        if !cleaned.counts().contains(&u64::from(CLEANUP.batch)) {
            break;
        }
    }
    telemetry::job_line(
        "clean-up",
        cron,
        serde_json::json!({
            "rounds": rounds,
            "expired_keys": total.expired_keys,
            "old_tombstones": total.old_tombstones,
            "excess_keys": total.excess_keys,
            "excess_tombstones": total.excess_tombstones,
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrangler_toml_triggers_every_job_by_its_own_expression() {
        let toml = include_str!("../wrangler.toml");
        let crons = toml
            .lines()
            .find_map(|line| line.trim().strip_prefix("crons = "))
            .expect("wrangler.toml has [triggers] crons");
        assert_eq!(crons, format!("[\"{CLEANUP_CRON}\"]"));
    }

    #[test]
    fn a_run_removes_more_than_one_user_at_the_rate_limit_adds_in_an_hour() {
        let per_run = u64::from(CLEANUP.batch) * u64::from(CLEANUP_ROUNDS);
        let one_user_at_the_limit_for_an_hour = 1200 * 60;
        assert!(per_run > one_user_at_the_limit_for_an_hour);
    }
}
