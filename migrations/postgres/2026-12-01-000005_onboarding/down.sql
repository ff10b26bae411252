DROP TABLE tenant_onboardings;
