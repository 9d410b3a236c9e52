//! The ids an order refers to, each its own type so that a course id can never be passed where a
//! reservation id is meant. Owns the ids' shapes and their creation; says nothing about what may
//! be done with them.

use serde::{Deserialize, Serialize};
use std::{borrow::Borrow, fmt, sync::Arc};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id, ordered by creation time (UUID v7).
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// The id a caller or a stored record names.
            pub const fn from_uuid(id: Uuid) -> Self {
                $name(id)
            }

            pub const fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An order of order-service.
    OrderId
);
uuid_id!(
    /// The reservation at course-service an order holds its seat under, chosen by the order
    /// before the first call so that every retry names the same one.
    ReservationId
);
impl ReservationId {
    /// The reservation a paid order holds a new seat under when its hold is gone: derived from
    /// this one (UUID v5), so that every driver of the order, before or after a crash, names the
    /// same new hold.
    pub fn successor(self) -> ReservationId {
        ReservationId(Uuid::new_v5(&self.0, b"late-payment"))
    }
}

uuid_id!(
    /// A course of course-service.
    CourseId
);

/// The student an order belongs to: the `sub` of their token. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StudentId(Arc<str>);

impl StudentId {
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        StudentId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for StudentId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StudentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
