//! Where "now" comes from: the chassis's clock (system or manual). Nothing else in order-service
//! reads the system time, so lease lapses, key lifetimes and the saga's timestamps are tested
//! without sleeping.

pub use service_kit::clock::{Clock, ManualClock, SystemClock};
