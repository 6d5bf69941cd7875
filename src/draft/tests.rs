//! Tests of the draft module.
