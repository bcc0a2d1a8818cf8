//! `[[webhooks]]`: where notifications are delivered (SPEC section 8).
use std::collections::HashSet;

use super::super::file::FileWebhook;
use super::checker::Checker;
use super::urls::{is_loopback, parse_target_url};
use crate::config::WebhookDecl;
use crate::vocabulary::delivery::{MAX_ATTEMPTS, MAX_BACKOFF, MAX_TIMEOUT};
use crate::vocabulary::events::EventType;

const DEFAULT_MAX_ATTEMPTS: i64 = 12;
const DEFAULT_BACKOFF_SECONDS: i64 = 30;
const DEFAULT_TIMEOUT_SECONDS: i64 = 10;

pub(super) fn check_webhooks(check: &mut Checker, webhooks: &[FileWebhook]) -> Vec<WebhookDecl> {
    let mut seen_urls = HashSet::new();
    let mut declared = Vec::new();
    for (i, webhook) in webhooks.iter().enumerate() {
        let path = format!("webhooks[{i}]");
        let problems_before = check.problems.len();
        match check_url(&webhook.url) {
            Err(message) => check.problem(format!("{path}.url"), message),
            Ok(()) if !seen_urls.insert(webhook.url.as_str()) => check.problem(
                format!("{path}.url"),
                "another webhook has the same url (the url names a webhook)",
            ),
            Ok(()) => {}
        }
        let secret = check.hmac_secret(&format!("{path}.secret"), &webhook.secret);
        if webhook.events.is_empty() {
            check.problem(format!("{path}.events"), "at least one is required");
        }
        let events: Vec<EventType> = webhook
            .events
            .iter()
            .enumerate()
            .filter_map(|(j, name)| {
                let event = EventType::parse(name);
                if event.is_none() {
                    let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                    check.problem(
                        format!("{path}.events[{j}]"),
                        format!("unknown event {name:?} (known: {})", known.join(", ")),
                    );
                }
                event
            })
            .collect();
        let max_attempts = check.count(
            &format!("{path}.max_attempts"),
            webhook.max_attempts,
            DEFAULT_MAX_ATTEMPTS,
            i64::from(MAX_ATTEMPTS),
        );
        let backoff = check.duration(
            &format!("{path}.backoff"),
            webhook.backoff.as_deref(),
            DEFAULT_BACKOFF_SECONDS,
        );
        if backoff > MAX_BACKOFF {
            check.problem(
                format!("{path}.backoff"),
                format!("must be at most {MAX_BACKOFF}s (delays are capped there)"),
            );
        }
        let timeout = check.duration(
            &format!("{path}.timeout"),
            webhook.timeout.as_deref(),
            DEFAULT_TIMEOUT_SECONDS,
        );
        if timeout > MAX_TIMEOUT {
            check.problem(
                format!("{path}.timeout"),
                format!("must be at most {MAX_TIMEOUT}s"),
            );
        }
        if let Some(secret) = secret
            && check.problems.len() == problems_before
        {
            declared.push(WebhookDecl {
                url: webhook.url.clone(),
                secret,
                events,
                max_attempts: max_attempts as u32,
                backoff,
                timeout: timeout as u64,
            });
        }
    }
    declared
}

/// A webhook gets personal data, so it is https, except on the machine itself (a receiver
/// beside idbridge, or tests).
fn check_url(value: &str) -> Result<(), &'static str> {
    let url = parse_target_url(value)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => Err("must be an https URL (http only for loopback hosts)"),
    }
}
