//! (being built)

pub mod qitech;
