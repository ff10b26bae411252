//! `coffer link create|ls|revoke`: share links of a file, for people
//! outside the tenant (docs/sharing.md).

use std::io::BufRead as _;

use coffer_api::{LinkBody, LinkDto};
use coffer_domain::{FileStatus, LinkPassword};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::LinkCommand;
use crate::commands::{connect, print_line, remote, shown};
use crate::exit::Failure;
use crate::settings::{Dirs, Settings};

pub(crate) async fn run(
    action: LinkCommand,
    settings: &Settings,
    dirs: Dirs,
) -> Result<(), Failure> {
    match action {
        LinkCommand::Create {
            common,
            place,
            expires,
            max_downloads,
            password_stdin,
        } => {
            let expires_at = expiry(&expires, OffsetDateTime::now_utc())?;
            let password = if password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let ctx = connect(&common, settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Available).await?;
            let body = LinkBody {
                expires_at,
                password,
                max_downloads,
            };
            let link = ctx.client.create_link(file.id, &body).await?;
            let url = link.url.clone().unwrap_or_default();
            print_line(ctx.json, &link, &url);
            Ok(())
        }
        LinkCommand::Ls { common, place } => {
            let ctx = connect(&common, settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Available).await?;
            let links = ctx.client.links(file.id).await?;
            if links.is_empty() && !ctx.json {
                println!("{} has no share links", shown(&file));
            }
            for link in &links {
                print_line(ctx.json, link, &summary(link));
            }
            Ok(())
        }
        LinkCommand::Revoke {
            common,
            place,
            link,
        } => {
            let link: Uuid = link
                .parse()
                .map_err(|_| Failure::usage(format!("link: {link:?} is not a link id")))?;
            let ctx = connect(&common, settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Available).await?;
            ctx.client.revoke_link(file.id, link).await?;
            let done = serde_json::json!({ "id": link, "state": "revoked" });
            print_line(
                ctx.json,
                &done,
                &format!("revoked link {link} of {}", shown(&file)),
            );
            Ok(())
        }
    }
}

/// `7d`, `12h`, `30m`, `90s` from `now`, or an RFC 3339 instant.
pub(crate) fn expiry(raw: &str, now: OffsetDateTime) -> Result<OffsetDateTime, Failure> {
    let refused = || {
        Failure::usage(format!(
            "--expires: {raw:?} is neither a duration (30m, 12h, 7d) nor an RFC 3339 time"
        ))
    };
    if let Ok(at) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(at);
    }
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(refused)?;
    let (count, unit) = raw.split_at(split);
    let count: i64 = count.parse().map_err(|_| refused())?;
    let unit = match unit {
        "s" => Duration::SECOND,
        "m" => Duration::MINUTE,
        "h" => Duration::HOUR,
        "d" => Duration::DAY,
        _ => return Err(refused()),
    };
    unit.checked_mul(i32::try_from(count).map_err(|_| refused())?)
        .and_then(|span| now.checked_add(span))
        .ok_or_else(refused)
}

fn password_from_stdin() -> Result<LinkPassword, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("--password-stdin: {e}")))?;
    let line = line.trim_end_matches(['\r', '\n']);
    LinkPassword::new(line).map_err(|e| Failure::usage(format!("--password-stdin: {}", e.reason)))
}

fn summary(link: &LinkDto) -> String {
    let uses = match link.max_downloads {
        Some(max) => format!("{}/{max} downloads", link.downloads),
        None => format!("{} downloads", link.downloads),
    };
    let expires = link.expires_at.format(&Rfc3339).unwrap_or_default();
    let password = if link.password_protected {
        ", password"
    } else {
        ""
    };
    format!(
        "{}  {:<8} {uses}, expires {expires}{password}",
        link.id, link.state
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_read_as_durations_or_instants() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(expiry("7d", now).ok(), Some(now + Duration::days(7)));
        assert_eq!(expiry("12h", now).ok(), Some(now + Duration::hours(12)));
        assert_eq!(expiry("30m", now).ok(), Some(now + Duration::minutes(30)));
        assert_eq!(
            expiry("2026-12-31T00:00:00Z", now).ok(),
            OffsetDateTime::parse("2026-12-31T00:00:00Z", &Rfc3339).ok()
        );
        for bad in ["", "7", "d", "7w", "-1d", "tomorrow", "99999999999d"] {
            assert!(expiry(bad, now).is_err(), "{bad:?}");
        }
    }
}
