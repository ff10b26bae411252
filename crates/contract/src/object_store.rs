//! ObjectStore contract suite.
