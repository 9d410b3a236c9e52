//! Test support for end-to-end tests: a [`TestCluster`] of both services in one process on free
//! ports, optionally with a [`FaultProxy`] between order-service and course-service.

pub mod cluster;
pub mod proxy;

pub use cluster::{ClusterOptions, Reply, TestCluster};
pub use proxy::{Fault, FaultProxy, Target};
