//! Test support for end-to-end tests: a [`TestCluster`] of both services in one process on free
//! ports, optionally with a [`FaultProxy`] between order-service and course-service; and the
//! service binaries as child processes ([`procs`]) for restart and crash tests, and the launcher
//! ([`launcher`]) as a newcomer starts it; a real OpenID Connect provider ([`oidc`]).

pub mod cluster;
pub mod launcher;
pub mod oidc;
pub mod procs;
pub mod proxy;

pub use cluster::{ClusterOptions, Reply, TestCluster};
pub use proxy::{Fault, FaultProxy, Target};
