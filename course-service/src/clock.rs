//! Where "now" comes from: the chassis's clock (system or manual), so course-service and its tests
//! read time one way.

pub use service_kit::clock::{Clock, ManualClock, SystemClock};
