//! Set-up shared by the integration tests, written once. Each test binary includes it with
//! `mod support;` and uses the parts it needs, so any one binary leaves most of it unused.
#![allow(dead_code)]

pub mod apps;
pub mod eal;
pub mod engines;
pub mod flows;
pub mod frames;
pub mod gen;
pub mod host;
