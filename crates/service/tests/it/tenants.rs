use std::sync::Arc;

use coffer_domain::Usage;
use coffer_domain::{LimitOverrides, Plan, Region, Role, TenantSlug, TenantStatus};
use coffer_ports::{MetadataErrorKind, MockAuditLog, TenantData};
use coffer_service::{Audit, CreateTenant, ErrorKind, TenantUpdate};

use crate::support::*;

fn create(slug: &str) -> CreateTenant {
    CreateTenant {
        slug: TenantSlug::new(slug).unwrap(),
        display_name: "  Globex  ".into(),
        plan: Plan::Professional,
        region: Region::new("eu-west").unwrap(),
        limit_overrides: LimitOverrides::default(),
        dedicated_bucket: None,
        dedicated_database: None,
        dedicated_schema: None,
        admin_subject: None,
    }
}

#[tokio::test]
async fn only_platform_admins_manage_tenants() {
    let t = tenant(TenantStatus::Active);
    let mut fx = OnboarderFx::default();
    fx.onboarding.expect_create_onboarding().never();
    let admin = caller(&t, "boss", &[Role::Admin]);
    assert_err(
        fx.build().create_tenant(&admin, create("globex")).await,
        ErrorKind::Forbidden,
        "platform_admin_required",
    );
    let mut fx = TenantsFx::default();
    fx.registry.expect_list_tenants().never();
    assert_err(
        fx.build().list_tenants(&admin, None, None).await,
        ErrorKind::Forbidden,
        "platform_admin_required",
    );
}

#[tokio::test]
async fn create_validates_and_reports_taken_slugs() {
    let mut fx = OnboarderFx::default();
    fx.onboarding
        .expect_create_onboarding()
        .times(1)
        .withf(|n, _, _| n.display_name == "Globex" && n.status == TenantStatus::Provisioning)
        .returning(|_, _, _| Err(meta_err(MetadataErrorKind::Conflict)));
    let app = fx.build();
    assert_err(
        app.create_tenant(&platform_admin(), create("globex")).await,
        ErrorKind::Conflict,
        "slug_taken",
    );
    let blank = CreateTenant {
        display_name: " ".into(),
        ..create("globex")
    };
    assert_err(
        app.create_tenant(&platform_admin(), blank).await,
        ErrorKind::Invalid,
        "validation_failed",
    );
}

#[tokio::test]
async fn lifecycle_transitions() {
    let active = tenant(TenantStatus::Active);
    let mut fx = TenantsFx::default();
    let current = active.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(current.clone()));
    let echo = active.clone();
    fx.registry
        .expect_update_tenant()
        .times(2)
        .returning(move |_, patch, _| {
            let mut t = echo.clone();
            t.status = patch.status.unwrap_or(t.status);
            t.purge_after = patch.purge_after.flatten();
            t.suspended_at = patch.suspended_at.flatten();
            Ok(t)
        });
    let app = fx.build();
    let suspend = TenantUpdate {
        status: Some(TenantStatus::Suspended),
        ..Default::default()
    };
    let t = app
        .update_tenant(&platform_admin(), active.id, suspend)
        .await
        .unwrap();
    assert_eq!(t.suspended_at, Some(now()));
    let cancel = TenantUpdate {
        status: Some(TenantStatus::Cancelled),
        ..Default::default()
    };
    let t = app
        .update_tenant(&platform_admin(), active.id, cancel)
        .await
        .unwrap();
    // Starter keeps data for 90 days by default.
    assert_eq!(t.purge_after, Some(now() + time::Duration::days(90)));
    let bad = TenantUpdate {
        status: Some(TenantStatus::Provisioning),
        ..Default::default()
    };
    assert_err(
        app.update_tenant(&platform_admin(), active.id, bad).await,
        ErrorKind::Conflict,
        "invalid_transition",
    );
}

#[tokio::test]
async fn cancelled_tenants_reactivate_only_before_purge() {
    let mut cancelled = tenant(TenantStatus::Cancelled);
    cancelled.purge_after = Some(now() - time::Duration::seconds(1));
    let mut fx = TenantsFx::default();
    let current = cancelled.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(current.clone()));
    fx.registry.expect_update_tenant().never();
    let reactivate = TenantUpdate {
        status: Some(TenantStatus::Active),
        ..Default::default()
    };
    let result = fx
        .build()
        .update_tenant(&platform_admin(), cancelled.id, reactivate)
        .await;
    assert_err(result, ErrorKind::Conflict, "invalid_transition");
}

#[tokio::test]
async fn current_tenant_shows_effective_limits_and_usage() {
    let t = limited(LimitOverrides {
        max_file_size: Some(42),
        ..Default::default()
    });
    let mut fx = TenantsFx::default();
    fx.files.expect_usage().returning(|_| {
        Ok(Usage {
            used_bytes: 7,
            file_count: 1,
            ..Default::default()
        })
    });
    let view = fx
        .build()
        .current_tenant(&caller(&t, "v", &[Role::Viewer]))
        .await
        .unwrap();
    assert_eq!(view.limits.max_file_size, 42);
    assert_eq!(view.limits.max_total_bytes, 10 * 1024 * 1024 * 1024);
    assert_eq!(view.usage.used_bytes, 7);
}

#[tokio::test]
async fn audit_is_for_tenant_admins() {
    let t = tenant(TenantStatus::Active);
    let mut audit = MockAuditLog::new();
    audit.expect_list_audit().times(1).returning(|_, _| {
        Ok(coffer_ports::Page {
            items: vec![],
            next_cursor: None,
        })
    });
    audit_ok(&mut audit);
    let data = TenantData {
        audit: Arc::new(audit),
        ..no_data()
    };
    let app = Audit::new(resolver(data, None, None), clock());
    let query = || coffer_ports::AuditQuery {
        actor: None,
        action: None,
        file_id: None,
        since: None,
        until: None,
        after: None,
        limit: 50,
        oldest_first: false,
    };
    assert_err(
        app.list_audit(&caller(&t, "ed", &[Role::Editor]), query())
            .await,
        ErrorKind::Forbidden,
        "admin_required",
    );
    assert!(
        app.list_audit(&caller(&t, "boss", &[Role::Admin]), query())
            .await
            .is_ok()
    );
}
