//! [`coffer_ports::OnboardingQueue`]: a tenant's provisioning queued with
//! the tenant, claimed once under a lease, recorded step by step, finished,
//! failed and requeued.

use coffer_domain::{
    OnboardingRequest, OnboardingState, OnboardingStep, Tenant, TenantId, TenantStatus,
};
use coffer_ports::{MetadataErrorKind, MetadataPorts, NewOnboarding, OnboardingUpdate};

use super::fixtures::{at, audited, named, new_tenant, record, subject};

/// The cases of [`coffer_ports::OnboardingQueue`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! onboarding_queue_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; onboarding;
            onboarding_is_queued_claimed_once_and_finished,
            failed_onboarding_is_requeued_and_reclaimed,
        );
    };
}

fn progress(
    expected: OnboardingState,
    state: OnboardingState,
    done: &[OnboardingStep],
    status: Option<TenantStatus>,
    secs: i64,
) -> OnboardingUpdate {
    OnboardingUpdate {
        expected,
        state,
        current_step: done.last().copied(),
        steps_done: done.to_vec(),
        last_error: None,
        tenant_status: status,
        at: at(secs),
    }
}

async fn queue(ports: &MetadataPorts, slug: &str, secs: i64) -> Tenant {
    let mut new = new_tenant(slug, secs);
    new.status = TenantStatus::Provisioning;
    // Onboarding cases are about the queue: the database step is not theirs.
    new.dedicated_database = None;
    new.dedicated_schema = None;
    let (tenant, job) = ports
        .onboarding
        .create_onboarding(
            new,
            NewOnboarding {
                request: OnboardingRequest {
                    admin_subject: Some(subject("first-admin")),
                },
                queued_at: at(secs),
            },
            named("tenant.created", secs),
        )
        .await
        .unwrap();
    assert_eq!(tenant.status, TenantStatus::Provisioning);
    assert_eq!(job.state, OnboardingState::Queued);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.request.admin_subject, Some(subject("first-admin")));
    tenant
}

pub async fn onboarding_is_queued_claimed_once_and_finished(ports: MetadataPorts) {
    use OnboardingState::{Done, Queued, Running};
    let onboarding = &ports.onboarding;
    let first = queue(&ports, "onb-first", 0).await;
    let second = queue(&ports, "onb-second", 5).await;
    assert_eq!(audited(&ports, &first, "tenant.created").await, 1);
    // The slug is taken: nothing of the second attempt is left.
    let mut again = new_tenant("onb-first", 6);
    again.status = TenantStatus::Provisioning;
    let err = onboarding
        .create_onboarding(
            again.clone(),
            NewOnboarding {
                request: OnboardingRequest::default(),
                queued_at: at(6),
            },
            record(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), MetadataErrorKind::Conflict);
    assert_eq!(
        onboarding
            .get_onboarding(again.id)
            .await
            .unwrap_err()
            .kind(),
        MetadataErrorKind::NotFound
    );
    // Oldest first, each once, leased.
    let lease = time::Duration::seconds(60);
    let claimed = onboarding
        .claim_onboarding(at(10), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.tenant_id, first.id);
    assert_eq!(claimed.state, Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.lease_until, Some(at(70)));
    let next = onboarding
        .claim_onboarding(at(11), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.tenant_id, second.id);
    assert_eq!(
        onboarding.claim_onboarding(at(12), lease).await.unwrap(),
        None
    );
    // A record in the wrong state changes nothing and records nothing.
    let wrong = onboarding
        .update_onboarding(
            first.id,
            progress(Queued, Running, &[OnboardingStep::Placement], None, 13),
            named("onboarding.step", 13),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), MetadataErrorKind::InvalidState);
    assert_eq!(audited(&ports, &first, "onboarding.step").await, 0);
    // A step's record keeps the lease.
    let step = onboarding
        .update_onboarding(
            first.id,
            progress(Running, Running, &[OnboardingStep::Placement], None, 14),
            named("onboarding.step", 14),
        )
        .await
        .unwrap();
    assert_eq!(step.steps_done, [OnboardingStep::Placement]);
    assert_eq!(step.current_step, Some(OnboardingStep::Placement));
    assert_eq!(step.lease_until, Some(at(70)));
    assert_eq!(audited(&ports, &first, "onboarding.step").await, 1);
    // A worker that died: its lease runs out and another takes over.
    assert_eq!(
        onboarding.claim_onboarding(at(69), lease).await.unwrap(),
        None
    );
    let taken = onboarding
        .claim_onboarding(at(71), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.tenant_id, first.id);
    assert_eq!(taken.attempts, 2);
    assert_eq!(taken.steps_done, [OnboardingStep::Placement]);
    // Done, and the tenant active, in one change.
    let all = OnboardingStep::ALL;
    let done = onboarding
        .update_onboarding(
            first.id,
            progress(Running, Done, all, Some(TenantStatus::Active), 72),
            named("tenant.activated", 72),
        )
        .await
        .unwrap();
    assert_eq!(done.state, Done);
    assert_eq!(done.lease_until, None);
    assert_eq!(onboarding.get_onboarding(first.id).await.unwrap(), done);
    assert_eq!(
        ports.registry.get_tenant(first.id).await.unwrap().status,
        TenantStatus::Active
    );
    assert_eq!(
        ports.registry.get_tenant(second.id).await.unwrap().status,
        TenantStatus::Provisioning
    );
    assert_eq!(audited(&ports, &first, "tenant.activated").await, 1);
    assert_eq!(
        onboarding
            .claim_onboarding(at(500), lease)
            .await
            .unwrap()
            .map(|j| j.tenant_id),
        Some(second.id)
    );
    assert_eq!(
        onboarding.claim_onboarding(at(501), lease).await.unwrap(),
        None
    );
}

pub async fn failed_onboarding_is_requeued_and_reclaimed(ports: MetadataPorts) {
    use OnboardingState::{Failed, Queued, Running};
    let onboarding = &ports.onboarding;
    let t = queue(&ports, "onb-fails", 0).await;
    let lease = time::Duration::seconds(60);
    onboarding
        .claim_onboarding(at(1), lease)
        .await
        .unwrap()
        .unwrap();
    let mut failure = progress(
        Running,
        Failed,
        &[],
        Some(TenantStatus::ProvisioningFailed),
        2,
    );
    failure.current_step = Some(OnboardingStep::AdminUser);
    failure.last_error = Some("admin_user: boom".into());
    let failed = onboarding
        .update_onboarding(t.id, failure, named("onboarding.failed", 2))
        .await
        .unwrap();
    assert_eq!(failed.state, Failed);
    assert_eq!(failed.current_step, Some(OnboardingStep::AdminUser));
    assert_eq!(failed.last_error.as_deref(), Some("admin_user: boom"));
    assert_eq!(
        ports.registry.get_tenant(t.id).await.unwrap().status,
        TenantStatus::ProvisioningFailed
    );
    // A failed onboarding is never claimed, even long after.
    assert_eq!(
        onboarding
            .claim_onboarding(at(10_000), lease)
            .await
            .unwrap(),
        None
    );
    let requeued = onboarding
        .update_onboarding(
            t.id,
            progress(Failed, Queued, &[], Some(TenantStatus::Provisioning), 3),
            named("onboarding.retried", 3),
        )
        .await
        .unwrap();
    assert_eq!(requeued.state, Queued);
    assert_eq!(
        ports.registry.get_tenant(t.id).await.unwrap().status,
        TenantStatus::Provisioning
    );
    let again = onboarding
        .claim_onboarding(at(4), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    // Retrying what is not failed is refused.
    let err = onboarding
        .update_onboarding(t.id, progress(Failed, Queued, &[], None, 5), record())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), MetadataErrorKind::InvalidState);
    assert_eq!(
        onboarding
            .update_onboarding(
                TenantId::new_random(),
                progress(Running, Failed, &[], None, 5),
                record()
            )
            .await
            .unwrap_err()
            .kind(),
        MetadataErrorKind::NotFound
    );
}
