//! Registering a webhook: a host that resolves to an internal address is
//! refused (`webhook_target_refused`) and nothing is stored, unless the
//! operator's allowlist names it; a name that does not resolve yet is
//! accepted (delivery checks the address it connects to).

use std::net::IpAddr;

use coffer_domain::outbound::OutboundPolicy;
use coffer_domain::webhook::WebhookUrl;
use coffer_domain::{ErrorCode, Role, TenantStatus};
use coffer_service::ErrorKind;

use crate::support::*;

fn resolving(fx: &mut EventsFx, addresses: Result<Vec<&str>, &str>) {
    let addresses: Result<Vec<IpAddr>, String> = addresses
        .map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect())
        .map_err(str::to_owned);
    fx.sender
        .expect_resolve()
        .returning(move |_| addresses.clone());
}

#[tokio::test]
async fn a_name_resolving_to_an_internal_address_is_refused_and_not_stored() {
    let t = tenant(TenantStatus::Active);
    for internal in ["10.0.0.7", "169.254.169.254", "::1", "fd00::1"] {
        let mut fx = EventsFx::default();
        resolving(&mut fx, Ok(vec!["93.184.215.14", internal]));
        fx.settings.expect_put_setting().never();
        let err = fx
            .build()
            .set_webhook(
                &caller(&t, "root", &[Role::Admin]),
                WebhookUrl::new("https://rebound.example/hook").unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{internal}: {err}");
        assert_eq!(
            err.code,
            ErrorCode::WebhookTargetRefused,
            "{internal}: {err}"
        );
    }
}

#[tokio::test]
async fn public_unresolvable_and_allowed_names_are_stored() {
    let t = tenant(TenantStatus::Active);
    for (allowed, addresses) in [
        (vec![], Ok(vec!["93.184.215.14"])),
        (vec![], Err("no such host")),
        (vec!["10.0.0.0/8"], Ok(vec!["10.0.0.7"])),
        (vec!["rebound.example"], Ok(vec!["127.0.0.1"])),
    ] {
        let mut fx = EventsFx::default();
        fx.config.outbound = OutboundPolicy::parse(&allowed).unwrap();
        resolving(&mut fx, addresses);
        fx.settings
            .expect_put_setting()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        fx.build()
            .set_webhook(
                &caller(&t, "root", &[Role::Admin]),
                WebhookUrl::new("https://rebound.example/hook").unwrap(),
            )
            .await
            .unwrap();
    }
}
