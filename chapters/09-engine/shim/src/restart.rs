//! Restart policies: `--restart no|always|on-failure[:N]|unless-stopped`, and
//! the decision the supervisor takes each time the container's command ends.
//!
//! The numbers are dockerd's (`restartmanager/restartmanager.go`): the delay
//! before a restart starts at 100 ms and doubles each time, up to one minute;
//! once the container has run for 10 seconds or more it goes back to 100 ms.
//! `on-failure` restarts only after a non-zero exit, at most N times when N is
//! given; `unless-stopped` and `always` restart whatever the status, except
//! after `docker stop` (for `always` dockerd cancels the restart on stop; for
//! `unless-stopped` the stop is also remembered across daemon restarts, which
//! is the engine's business, not the supervisor's).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The first delay before a restart.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay before a restart.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay to [`FIRST_DELAY`].
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// Why a `--restart` value was refused, in docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `:3` with nothing before the colon.
    #[error("invalid restart policy format: no policy provided before colon")]
    NoPolicy,
    /// `on-failure:x`.
    #[error("invalid restart policy format: maximum retry count must be an integer")]
    Count,
    /// A name docker does not know.
    #[error(
        "invalid restart policy: unknown policy '{0}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
    )]
    Unknown(String),
    /// `always:3`: a count only goes with `on-failure`.
    #[error("invalid restart policy: maximum retry count can only be used with 'on-failure'")]
    CountWithout,
    /// `on-failure:-1`.
    #[error("invalid restart policy: maximum retry count cannot be negative")]
    Negative,
}

// ANCHOR: policy
/// What to do when the container's command ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    /// Never restart (`no`, the default).
    #[default]
    No,
    /// Always restart, unless stopped by the user.
    Always,
    /// Restart after a non-zero exit, at most `max` times (`None`: no limit).
    OnFailure {
        /// `on-failure:N`; `on-failure` and `on-failure:0` set no limit.
        max: Option<u32>,
    },
    /// Like `always`, but a container the user stopped stays stopped.
    UnlessStopped,
}
// ANCHOR_END: policy

impl FromStr for Policy {
    type Err = Error;

    /// Parses `--restart` as the docker CLI (`opts.ParseRestartPolicy`) and
    /// dockerd (`ValidateRestartPolicy`) do together.
    fn from_str(value: &str) -> Result<Policy, Error> {
        let (name, count) = match value.split_once(':') {
            Some(("", _)) => return Err(Error::NoPolicy),
            Some((name, count)) => (name, count),
            None => (value, ""),
        };
        let count: Option<i64> = if count.is_empty() {
            None
        } else {
            Some(count.parse().map_err(|_| Error::Count)?)
        };
        match (name, count) {
            ("" | "no", None | Some(0)) => Ok(Policy::No),
            ("always", None | Some(0)) => Ok(Policy::Always),
            ("unless-stopped", None | Some(0)) => Ok(Policy::UnlessStopped),
            ("" | "no" | "always" | "unless-stopped", Some(_)) => Err(Error::CountWithout),
            ("on-failure", Some(n)) if n < 0 => Err(Error::Negative),
            ("on-failure", n) => Ok(Policy::OnFailure {
                max: n
                    .filter(|&n| n > 0)
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            }),
            (other, _) => Err(Error::Unknown(other.to_string())),
        }
    }
}

impl fmt::Display for Policy {
    /// The policy as `docker inspect` shows `HostConfig.RestartPolicy.Name`
    /// (with `:N` for a limited `on-failure`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::No => f.write_str("no"),
            Policy::Always => f.write_str("always"),
            Policy::OnFailure { max: None } => f.write_str("on-failure"),
            Policy::OnFailure { max: Some(n) } => write!(f, "on-failure:{n}"),
            Policy::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

// ANCHOR: decide
/// The restart manager of one container: the policy, how often it restarted,
/// and the current delay.
#[derive(Debug, Clone)]
pub struct Restarts {
    policy: Policy,
    count: u32,
    delay: Option<Duration>,
}

impl Restarts {
    /// A manager for `policy`, for a container that has restarted `count`
    /// times already (docker's `RestartCount`).
    pub fn new(policy: Policy, count: u32) -> Restarts {
        Restarts {
            policy,
            count,
            delay: None,
        }
    }

    /// The manager again, in a later entry of the supervisor (see
    /// `supervise::resume`): `delay` is the one [`Restarts::delay`] gave.
    pub fn resume(policy: Policy, count: u32, delay: Option<Duration>) -> Restarts {
        Restarts {
            policy,
            count,
            delay,
        }
    }

    /// The delay before the last restart, which the next one doubles.
    pub fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// How many times the container was restarted.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The command ended with `code` after running for `ran`; `stopped` says
    /// the user stopped it (`docker stop`/`kill`). Returns the delay to wait
    /// before starting it again, or `None` to leave it exited. A restart
    /// counts as soon as it is decided, as in dockerd.
    pub fn after_exit(&mut self, code: i32, ran: Duration, stopped: bool) -> Option<Duration> {
        if self.policy == Policy::No || stopped {
            return None;
        }
        let delay = match self.delay {
            Some(_) if ran >= RESET_AFTER => FIRST_DELAY,
            None => FIRST_DELAY,
            Some(d) => (d * 2).min(MAX_DELAY),
        };
        self.delay = Some(delay);
        let restart = match self.policy {
            Policy::No => false,
            Policy::Always | Policy::UnlessStopped => true,
            Policy::OnFailure { max } => code != 0 && max.is_none_or(|m| self.count < m),
        };
        if !restart {
            return None;
        }
        self.count += 1;
        Some(delay)
    }
}
// ANCHOR_END: decide

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_dockers_errors() {
        let p = |v: &str| v.parse::<Policy>();
        assert_eq!(p("no"), Ok(Policy::No));
        assert_eq!(p(""), Ok(Policy::No));
        assert_eq!(p("always"), Ok(Policy::Always));
        assert_eq!(p("unless-stopped"), Ok(Policy::UnlessStopped));
        assert_eq!(p("on-failure"), Ok(Policy::OnFailure { max: None }));
        assert_eq!(p("on-failure:0"), Ok(Policy::OnFailure { max: None }));
        assert_eq!(p("on-failure:3"), Ok(Policy::OnFailure { max: Some(3) }));
        let message = |v: &str| p(v).unwrap_err().to_string();
        assert_eq!(
            message("on-failure:x"),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            message(":3"),
            "invalid restart policy format: no policy provided before colon"
        );
        assert_eq!(
            message("sometimes"),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        );
        assert_eq!(
            message("always:2"),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        );
        assert_eq!(
            message("on-failure:-1"),
            "invalid restart policy: maximum retry count cannot be negative"
        );
        for v in [
            "no",
            "always",
            "on-failure",
            "on-failure:3",
            "unless-stopped",
        ] {
            assert_eq!(p(v).unwrap().to_string(), v);
        }
    }

    #[test]
    fn on_failure_counts_and_stops_at_the_limit() {
        let mut r = Restarts::new(Policy::OnFailure { max: Some(3) }, 0);
        let quick = Duration::from_millis(5);
        assert_eq!(r.after_exit(0, quick, false), None, "success: no restart");
        let delays: Vec<_> = (0..4).map(|_| r.after_exit(1, quick, false)).collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_millis(200)),
                Some(Duration::from_millis(400)),
                Some(Duration::from_millis(800)),
                None
            ]
        );
        assert_eq!(r.count(), 3);
    }

    #[test]
    fn the_delay_doubles_to_a_minute_and_resets_after_ten_seconds() {
        let mut r = Restarts::new(Policy::Always, 0);
        let quick = Duration::from_millis(5);
        let mut delays = Vec::new();
        for _ in 0..12 {
            delays.push(r.after_exit(0, quick, false).unwrap().as_millis());
        }
        assert_eq!(
            delays,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000
            ]
        );
        let long = r.after_exit(0, Duration::from_secs(10), false);
        assert_eq!(long, Some(FIRST_DELAY));
        assert_eq!(r.count(), 13);
    }

    #[test]
    fn a_stop_by_the_user_is_final() {
        for policy in [
            Policy::Always,
            Policy::UnlessStopped,
            Policy::OnFailure { max: None },
        ] {
            let mut r = Restarts::new(policy, 0);
            assert_eq!(r.after_exit(137, Duration::ZERO, true), None, "{policy}");
        }
        assert_eq!(
            Restarts::new(Policy::No, 0).after_exit(1, Duration::ZERO, false),
            None
        );
    }
}
