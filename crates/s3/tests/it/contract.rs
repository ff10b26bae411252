use crate::support::contract_store;

coffer_contract::object_store_contract!(contract_store);
