//! The ordered list of courses, for listing pages: every course id in creation order (UUIDv7 ids
//! sort by creation time), and the same per instructor. Pure data; the inventory guards it.

use crate::domain::CourseId;
use std::{
    collections::{BTreeSet, HashMap},
    ops::Bound,
    sync::Arc,
};

#[derive(Debug, Default)]
pub struct Catalog {
    all: BTreeSet<CourseId>,
    by_instructor: HashMap<Arc<str>, BTreeSet<CourseId>>,
}

impl Catalog {
    pub fn add(&mut self, id: CourseId, instructor: &Arc<str>) {
        self.all.insert(id);
        self.by_instructor
            .entry(Arc::clone(instructor))
            .or_default()
            .insert(id);
    }

    /// Up to `limit` ids after `after`, of one instructor or of all.
    pub fn page(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Vec<CourseId> {
        let set = match instructor {
            Some(who) => self.by_instructor.get(who),
            None => Some(&self.all),
        };
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        set.map(|s| {
            s.range((lower, Bound::Unbounded))
                .take(limit)
                .copied()
                .collect()
        })
        .unwrap_or_default()
    }
}
