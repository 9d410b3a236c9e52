//! Stripe's cursor pagination: `limit` (1 to 100, default 10), `starting_after` and
//! `ending_before` (object ids), over objects listed newest first.

use crate::error::ApiError;
use crate::form::Params;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl Page {
    /// Takes `limit`, `starting_after` and `ending_before` from a query.
    pub fn from_params(params: &mut Params) -> Result<Self, ApiError> {
        let limit = match params.take_int(&["limit"])? {
            None => 10,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) => {
                let message = if n < 1 {
                    "This value must be greater than or equal to 1."
                } else {
                    "This value must be less than or equal to 100."
                };
                return Err(ApiError::invalid_param("limit", message));
            }
        };
        let starting_after = params.take(&["starting_after"]).filter(|s| !s.is_empty());
        let ending_before = params.take(&["ending_before"]).filter(|s| !s.is_empty());
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::invalid_param(
                "ending_before",
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        Ok(Self {
            limit,
            starting_after,
            ending_before,
        })
    }

    /// One page of `items` (newest first) and whether more lie beyond it, in the direction the
    /// cursor points.
    pub fn take<'a, T: Clone + 'a>(
        &self,
        items: impl Iterator<Item = &'a T>,
        id_of: impl Fn(&T) -> &str,
        object: &str,
    ) -> Result<(Vec<T>, bool), ApiError> {
        let all: Vec<&T> = items.collect();
        let position = |cursor: &str, param: &str| {
            all.iter()
                .position(|item| id_of(item) == cursor)
                .ok_or_else(|| ApiError::no_such(object, cursor, param))
        };
        let (start, end) = if let Some(cursor) = &self.starting_after {
            let from = position(cursor, "starting_after")? + 1;
            (from, (from + self.limit).min(all.len()))
        } else if let Some(cursor) = &self.ending_before {
            let to = position(cursor, "ending_before")?;
            (to.saturating_sub(self.limit), to)
        } else {
            (0, self.limit.min(all.len()))
        };
        let has_more = if self.ending_before.is_some() {
            start > 0
        } else {
            end < all.len()
        };
        let data = all[start..end].iter().map(|item| (*item).clone()).collect();
        Ok((data, has_more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(query: &str) -> Page {
        Page::from_params(&mut Params::parse(query.as_bytes()).expect("parses")).expect("page")
    }

    #[test]
    fn pages_walk_both_ways() {
        let items: Vec<String> = (0..5).map(|i| format!("x{i}")).collect();
        let take = |p: Page| p.take(items.iter(), |s| s.as_str(), "thing").expect("page");
        let (data, more) = take(page("limit=2"));
        assert_eq!((data, more), (vec!["x0".to_owned(), "x1".to_owned()], true));
        let (data, more) = take(page("limit=2&starting_after=x3"));
        assert_eq!((data, more), (vec!["x4".to_owned()], false));
        let (data, more) = take(page("limit=2&ending_before=x3"));
        assert_eq!((data, more), (vec!["x1".to_owned(), "x2".to_owned()], true));
        let (data, more) = take(page("ending_before=x1"));
        assert_eq!((data, more), (vec!["x0".to_owned()], false));
        let missing = page("starting_after=nope").take(items.iter(), |s| s.as_str(), "thing");
        assert_eq!(
            missing.expect_err("unknown cursor").code,
            Some("resource_missing")
        );
    }

    #[test]
    fn limits_are_checked() {
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "starting_after=a&ending_before=b",
        ] {
            let mut p = Params::parse(bad.as_bytes()).expect("parses");
            assert!(Page::from_params(&mut p).is_err(), "{bad}");
        }
    }
}
