//! [`coffer_ports::MetadataReadiness`]: the database answers.

use coffer_ports::MetadataPorts;

/// The cases of [`coffer_ports::MetadataReadiness`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! metadata_readiness_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; readiness;
            check_ready_answers,
        );
    };
}

pub async fn check_ready_answers(ports: MetadataPorts) {
    ports.readiness.check_ready().await.unwrap();
}
