//! MetadataStore contract suite.
