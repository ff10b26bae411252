use crate::support::contract_store;

coffer_contract::object_store_contract!(contract_store);

/// The whole suite again with `object_lock` on, in a bucket with Object
/// Lock (versioned): uploads (streamed, presigned, multipart), copies and
/// deletes work there unchanged, and a delete leaves no version behind.
mod locked {
    use crate::support::locked_contract_store;

    coffer_contract::object_store_contract!(locked_contract_store);
}
