//! Rate limiting per caller: per subject for authenticated callers, per client IP for anonymous
//! ones (and for requests whose token does not verify), so one caller cannot starve the others.
//! `service` tokens are exempt: order-service's calls to course-service are bounded by the
//! students' own limits, and so are the paths a service names as unlimited (a payment provider's
//! signed webhooks). A refused request gets 429 `rate_limited` with `Retry-After`.
//!
//! Uses `governor` (GCRA, one state per key in a DashMap); `forget_idle` drops the state of keys
//! idle long enough to be full again, so memory follows the number of recent callers.

use crate::{TokenKeys, problem::problem_response};
use actix_web::{
    Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{StatusCode, header},
    middleware::Next,
    web,
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use shared_types::{ErrorCode, Role};
use std::num::NonZeroU32;

/// The limiter of one service; `None` inside when limiting is off.
#[derive(Debug)]
pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    unlimited: &'static [&'static str],
}

impl RateLimits {
    /// `rps` requests per second sustained, bursts of `burst`; `rps == 0` turns limiting off.
    pub fn new(rps: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(rps).map(|rps| {
            let burst = NonZeroU32::new(burst.max(1)).unwrap_or(rps);
            RateLimiter::dashmap(Quota::per_second(rps).allow_burst(burst))
        });
        RateLimits {
            limiter,
            unlimited: &[],
        }
    }

    /// The same limits, not applied to requests for any of `paths` (exact matches).
    pub fn except(self, paths: &'static [&'static str]) -> Self {
        RateLimits {
            unlimited: paths,
            ..self
        }
    }

    fn applies_to(&self, path: &str) -> bool {
        self.limiter.is_some() && !self.unlimited.contains(&path)
    }

    /// Forgets callers idle long enough to have their whole burst back.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// `Err(seconds to wait)` when `key` is over its limit.
    fn check(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Who a request counts against: `None` for exempt service callers.
fn caller_key(req: &ServiceRequest) -> Option<String> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let claims = token.and_then(|t| {
        req.app_data::<web::Data<TokenKeys>>()?
            .verify(t.trim())
            .ok()
    });
    match claims {
        Some(identity) if identity.has(Role::Service) => None,
        Some(identity) => Some(format!("sub:{}", identity.sub)),
        None => Some(format!(
            "ip:{}",
            req.peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default()
        )),
    }
}

/// The middleware; install it with `actix_web::middleware::from_fn(rate_limit)` and the
/// [`RateLimits`] in the app data.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let limits = req.app_data::<web::Data<RateLimits>>().cloned();
    if let Some(limits) = limits
        && limits.applies_to(req.path())
        && let Some(key) = caller_key(&req)
        && let Err(wait) = limits.check(&key)
    {
        let mut response: HttpResponse = problem_response(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("too many requests; retry in {wait} s"),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(wait.max(1)));
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_over_its_burst_waits_and_others_do_not() {
        let limits = RateLimits::new(1, 3);
        for _ in 0..3 {
            assert_eq!(limits.check("sub:a"), Ok(()));
        }
        let wait = limits.check("sub:a").expect_err("over the burst");
        assert!((1..=1).contains(&wait), "{wait}");
        assert_eq!(
            limits.check("sub:b"),
            Ok(()),
            "another caller is not affected"
        );
    }

    #[test]
    fn an_unlimited_path_is_not_limited_and_others_are() {
        let limits = RateLimits::new(1, 1).except(&["/hook"]);
        assert!(!limits.applies_to("/hook"));
        assert!(limits.applies_to("/hook/other"));
        assert!(limits.applies_to("/api/orders"));
        assert!(!RateLimits::new(0, 0).applies_to("/api/orders"));
    }

    #[test]
    fn zero_turns_limiting_off() {
        let limits = RateLimits::new(0, 0);
        for _ in 0..10_000 {
            assert_eq!(limits.check("ip:1.2.3.4"), Ok(()));
        }
    }
}
