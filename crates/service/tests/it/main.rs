//! Use cases over mocked ports: the success path and every failure branch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_log;
mod auth;
mod billing;
mod coffer;
mod credentials;
mod dispatch;
mod links;
mod manage;
mod metrics;
mod moves;
mod onboarding;
mod purge;
mod reads;
mod reconcile;
mod regions;
mod scanning;
mod settings;
mod sharing;
mod support;
mod sweep;
mod tenants;
mod upload_requests;
mod uploads;
mod webhook_targets;
